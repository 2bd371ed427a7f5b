//! Fuzzing of every decoder that reads bytes from outside: the Avro record of each topic, the
//! push envelope (`POST /events`, in the Pub/Sub push shape and in the bridge's), and the
//! base64 of its `message.data`.
//!
//! A stable proptest harness rather than cargo-fuzz, so it runs in `cargo test` with the rest
//! (docs/DECISIONS.md says why). Each decoder gets three kinds of input: arbitrary bytes,
//! structure-aware mutations of the corpus (`tests/corpus/`: the golden payloads of the
//! contract plus every input that once found a bug), and for envelopes JSON-ish text with NUL,
//! lone surrogates and invalid UTF-8. For every input:
//!
//! - no panic, and no allocation larger than a small multiple of the input (a counting global
//!   allocator measures the largest single allocation of the decoding thread);
//! - Avro: `Ok`, or a typed `DecodeError` naming the topic; what decodes re-encodes, decodes
//!   again, and re-encodes to the same bytes;
//! - envelopes: 204 (handled), 200 or 400, never a 5xx; what is handled is exactly what the
//!   Avro decoder makes of the base64-decoded `data`.
//!
//! Fast tier: `FAST_CASES` inputs per decoder. Slow tier (`slow_` tests, skipped by
//! `make test-fast`): `SLOW_CASES`. `FUZZ_CASES=<n>` overrides both, e.g. for a long run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use alpes_shared::events::{DecodeError, IntegrationEvent, Topic};
use alpes_shared::http::{
    EventDelivery, EventError, EventHandler, Handled, PushAuth, events_router,
};
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{
    Config, FileFailurePersistence, RngAlgorithm, TestCaseError, TestRunner,
};
use tower::ServiceExt;

const FAST_CASES: u32 = 2_000;
const SLOW_CASES: u32 = 100_000;

// ---------------------------------------------------------------------------------------
// Bounded memory: the largest single allocation made by the current thread.

struct PeakTracking;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    // `try_with`: the slot has no destructor, so it is usable at any time, even in teardown.
    let _ = PEAK.try_with(|peak| peak.set(peak.get().max(size)));
}

// SAFETY: every call is forwarded to the system allocator unchanged.
unsafe impl GlobalAlloc for PeakTracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: PeakTracking = PeakTracking;

/// Runs `f` and returns its result with the largest single allocation it made.
fn with_peak<T>(f: impl FnOnce() -> T) -> (T, usize) {
    PEAK.with(|peak| peak.set(0));
    let result = f();
    (result, PEAK.with(Cell::get))
}

/// What decoding `input_len` bytes may allocate at once: a record's field list, and at most
/// one `Value` per input byte for an array (no item is shorter than a byte).
fn allocation_bound(input_len: usize) -> usize {
    16 * 1024 + 64 * input_len
}

// ---------------------------------------------------------------------------------------
// The corpus.

fn corpus_dir(kind: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind)
}

/// Every file of `tests/corpus/<kind>`, sorted by name.
fn corpus(kind: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(kind);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.expect("corpus entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).expect("corpus file"))
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
}

/// The Avro corpus of each topic, read once (strategies are built per case).
static AVRO_CORPUS: LazyLock<BTreeMap<Topic, Vec<Vec<u8>>>> = LazyLock::new(|| {
    Topic::ALL
        .into_iter()
        .map(|topic| {
            let seeds = corpus(&format!("avro/{}", topic.name()))
                .into_iter()
                .map(|(_, bytes)| bytes)
                .collect();
            (topic, seeds)
        })
        .collect()
});

fn avro_corpus(topic: Topic) -> Vec<Vec<u8>> {
    AVRO_CORPUS[&topic].clone()
}

/// The golden payloads of every topic, for splices across topics.
fn all_avro_seeds() -> Vec<Vec<u8>> {
    Topic::ALL.into_iter().flat_map(avro_corpus).collect()
}

// ---------------------------------------------------------------------------------------
// Structure-aware mutation of Avro bytes.

/// The varints (union indexes, lengths, block counts, longs) of `bytes` as the topic's
/// schema reads them, as `(offset, length)`, up to the first thing that does not parse.
fn varint_spans(bytes: &[u8]) -> Vec<(usize, usize)> {
    // Every topic's record is `{data: [null, {field: [null, T]}...]}`, T one of string,
    // float, long and array of strings. Without the schema at hand, walk it generically:
    // a union index, then a string (the common case) when the branch is 1. Good enough to
    // find most length prefixes; the mutations do not need to be exact.
    let mut spans = Vec::new();
    let mut at = 0;
    while at < bytes.len() && spans.len() < 256 {
        let start = at;
        while at < bytes.len() && bytes[at] & 0x80 != 0 && at - start < 10 {
            at += 1;
        }
        at += 1;
        spans.push((start, at.min(bytes.len()) - start));
        // After a varint that reads as a plausible string length, skip the string.
        let value = zigzag_decode(&bytes[start..at.min(bytes.len())]);
        if value > 2 && (value as usize) <= bytes.len() - at.min(bytes.len()) {
            at += value as usize;
        }
    }
    spans
}

fn zigzag_decode(bytes: &[u8]) -> i64 {
    let mut value = 0u64;
    for (index, byte) in bytes.iter().take(10).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * index);
    }
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

fn zigzag_encode(value: i64) -> Vec<u8> {
    let mut zigzag = ((value << 1) ^ (value >> 63)) as u64;
    let mut out = Vec::new();
    loop {
        if zigzag < 0x80 {
            out.push(zigzag as u8);
            return out;
        }
        out.push((zigzag as u8 & 0x7F) | 0x80);
        zigzag >>= 7;
    }
}

/// Values that break length handling: around zero, the varint and integer boundaries,
/// apache-avro's allocation cap (512 MiB), and the extremes.
fn interesting_value() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => prop::sample::select(vec![
            0,
            1,
            -1,
            2,
            -2,
            3,
            63,
            64,
            -64,
            -65,
            127,
            128,
            255,
            256,
            i64::from(i32::MAX),
            i64::from(i32::MIN),
            1 << 28,
            (1 << 28) + 1,
            1 << 31,
            1 << 32,
            1 << 40,
            512 * 1024 * 1024,
            512 * 1024 * 1024 + 1,
            -(512 * 1024 * 1024),
            i64::MAX,
            i64::MIN,
            i64::MAX - 1,
            i64::MIN + 1,
        ]),
        1 => any::<i64>(),
        2 => -300i64..300,
    ]
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Insert(Index, Vec<u8>),
    Delete(Index, usize),
    /// Replace a range with a range of another corpus entry (of any topic).
    Splice(Index, Index, Index, usize),
    /// Replace one varint (union index, length, block count) with another value.
    Varint(Index, i64),
    /// The same, with a non-canonical encoding: padded with 0x80 continuation bytes, or
    /// longer than the 10 bytes a varint may take.
    OverlongVarint(Index, usize),
    Duplicate(Index, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(at, bit)| Mutation::FlipBit(at, bit)),
        2 => (any::<Index>(), prop::sample::select(vec![0x00, 0x01, 0x02, 0x03, 0x7f, 0x80, 0xff, 0xc3, 0xed]))
            .prop_map(|(at, byte)| Mutation::SetByte(at, byte)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        2 => (any::<Index>(), prop::collection::vec(any::<u8>(), 1..12))
            .prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        1 => (any::<Index>(), 1usize..16).prop_map(|(at, len)| Mutation::Delete(at, len)),
        2 => (any::<Index>(), any::<Index>(), any::<Index>(), 1usize..64)
            .prop_map(|(at, seed, from, len)| Mutation::Splice(at, seed, from, len)),
        6 => (any::<Index>(), interesting_value()).prop_map(|(at, value)| Mutation::Varint(at, value)),
        1 => (any::<Index>(), 1usize..12).prop_map(|(at, pad)| Mutation::OverlongVarint(at, pad)),
        1 => (any::<Index>(), 1usize..32).prop_map(|(at, len)| Mutation::Duplicate(at, len)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation], seeds: &[Vec<u8>]) -> Vec<u8> {
    for mutation in mutations {
        let len = bytes.len();
        match mutation {
            Mutation::FlipBit(at, bit) if len > 0 => bytes[at.index(len)] ^= 1 << bit,
            Mutation::SetByte(at, byte) if len > 0 => bytes[at.index(len)] = *byte,
            Mutation::Truncate(at) => bytes.truncate(at.index(len + 1)),
            Mutation::Insert(at, inserted) => {
                let at = at.index(len + 1);
                bytes.splice(at..at, inserted.iter().copied());
            }
            Mutation::Delete(at, count) if len > 0 => {
                let at = at.index(len);
                bytes.drain(at..(at + count).min(len));
            }
            Mutation::Splice(at, seed, from, count) => {
                if seeds.is_empty() {
                    continue;
                }
                let other = seed.get(seeds);
                if other.is_empty() {
                    continue;
                }
                let from = from.index(other.len());
                let piece = &other[from..(from + count).min(other.len())];
                let at = at.index(len + 1);
                let end = (at + piece.len()).min(len);
                bytes.splice(at..end, piece.iter().copied());
            }
            Mutation::Varint(at, value) => {
                let spans = varint_spans(&bytes);
                if spans.is_empty() {
                    bytes.extend(zigzag_encode(*value));
                } else {
                    let (start, span) = *at.get(&spans);
                    bytes.splice(start..start + span, zigzag_encode(*value));
                }
            }
            Mutation::OverlongVarint(at, pad) => {
                let spans = varint_spans(&bytes);
                if let Some(&(start, span)) = (!spans.is_empty()).then(|| at.get(&spans)) {
                    let value = zigzag_decode(&bytes[start..start + span]);
                    let mut encoded = zigzag_encode(value);
                    let last = encoded.len() - 1;
                    encoded[last] |= 0x80;
                    encoded.extend(std::iter::repeat_n(0x80, pad - 1));
                    encoded.push(0);
                    bytes.splice(start..start + span, encoded);
                }
            }
            Mutation::Duplicate(at, count) if len > 0 => {
                let at = at.index(len);
                let piece = bytes[at..(at + count).min(len)].to_vec();
                bytes.splice(at..at, piece);
            }
            _ => {}
        }
    }
    bytes
}

/// Bytes built from Avro-shaped pieces: varints of interesting values, short strings,
/// float bytes; deeper into the record than uniform noise gets.
fn avro_shaped() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => prop::sample::select(vec![0i64, 1, 2, 3]).prop_map(zigzag_encode),
        2 => interesting_value().prop_map(zigzag_encode),
        2 => regex("[a-zñ0-9@.\\-]{0,12}").prop_map(|text| {
            let mut bytes = zigzag_encode(text.len() as i64);
            bytes.extend(text.into_bytes());
            bytes
        }),
        1 => any::<f32>().prop_map(|number| number.to_le_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 1..4),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| {
        let mut bytes = vec![2];
        bytes.extend(pieces.into_iter().flatten());
        bytes
    })
}

/// Inputs for one topic's Avro decoder: arbitrary bytes, Avro-shaped bytes, and mutated
/// corpus entries (the topic's own, spliced with any topic's).
fn avro_input(topic: Topic) -> impl Strategy<Value = Vec<u8>> {
    let own = avro_corpus(topic);
    let all = all_avro_seeds();
    prop_oneof![
        1 => prop::collection::vec(any::<u8>(), 0..300),
        2 => avro_shaped(),
        6 => (prop::sample::select(own), prop::collection::vec(mutation(), 1..6))
            .prop_map(move |(seed, mutations)| apply(seed, &mutations, &all)),
    ]
}

// ---------------------------------------------------------------------------------------
// The Avro decoders.

/// One input through one topic's decoder, with every property checked.
fn check_avro(topic: Topic, bytes: &[u8]) -> Result<Option<IntegrationEvent>, TestCaseError> {
    let (decoded, peak) = with_peak(|| IntegrationEvent::decode(topic, bytes));
    prop_assert!(
        peak <= allocation_bound(bytes.len()),
        "{topic}: decoding {} byte(s) allocated {peak} bytes at once",
        bytes.len()
    );
    match decoded {
        Ok(event) => {
            prop_assert_eq!(event.topic(), topic);
            let encoded = event
                .encode()
                .map_err(|error| TestCaseError::fail(format!("a decoded event: {error}")))?;
            let again = IntegrationEvent::decode(topic, &encoded)
                .map_err(|error| TestCaseError::fail(format!("a re-encoded event: {error}")))?;
            // Bytes, not values: a NaN amount is not equal to itself.
            prop_assert_eq!(&again.encode().expect("encode"), &encoded);
            // What decodes is canonical or re-encodes to something no longer: no input
            // decodes to more than it holds.
            prop_assert!(encoded.len() <= bytes.len() + 1, "{topic}: {bytes:?}");
            Ok(Some(event))
        }
        Err(error) => {
            prop_assert_eq!(error.topic(), topic);
            prop_assert!(error.to_string().starts_with(topic.name()), "{error}");
            Ok(None)
        }
    }
}

fn config(cases: u32) -> Config {
    Config {
        cases: std::env::var("FUZZ_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(cases),
        // The seed of every failure, replayed first on later runs; commit the file.
        // (`SourceParallel`, the default, looks for a `lib.rs` beside `tests/` and falls
        // back to a file next to this one.)
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/proptest-regressions/decoder_fuzz.txt"
        )))),
        source_file: Some(file!()),
        max_shrink_iters: 4096,
        // ChaCha, the default, is most of the time of a case in a debug build.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    }
}

fn run<S: Strategy>(cases: u32, strategy: S, test: impl Fn(S::Value) -> Result<(), TestCaseError>) {
    let mut runner = TestRunner::new(config(cases));
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{failure}");
    }
}

fn fuzz_avro(topic: Topic, cases: u32) {
    for (name, seed) in corpus(&format!("avro/{}", topic.name())) {
        check_avro(topic, &seed).unwrap_or_else(|error| panic!("corpus {name}: {error}"));
    }
    run(cases, avro_input(topic), |bytes| {
        check_avro(topic, &bytes).map(drop)
    });
}

macro_rules! avro_tiers {
    ($($fast:ident, $slow:ident => $topic:ident;)*) => {$(
        #[test]
        fn $fast() {
            fuzz_avro(Topic::$topic, FAST_CASES);
        }

        #[test]
        fn $slow() {
            fuzz_avro(Topic::$topic, SLOW_CASES);
        }
    )*};
}

avro_tiers! {
    avro_crear_influencer, slow_avro_crear_influencer => CrearInfluencer;
    avro_influencers, slow_avro_influencers => Influencers;
    avro_campanas, slow_avro_campanas => Campanas;
    avro_contratos, slow_avro_contratos => Contratos;
    avro_contratos_error, slow_avro_contratos_error => ContratosError;
    avro_reportes, slow_avro_reportes => Reportes;
}

#[test]
fn every_golden_payload_decodes_and_round_trips_to_its_own_bytes() {
    for topic in Topic::ALL {
        let golden = &corpus(&format!("avro/{}", topic.name()))
            .into_iter()
            .find(|(name, _)| name == "golden.bin")
            .expect("a golden payload")
            .1;
        let event = check_avro(topic, golden).unwrap().expect("golden decodes");
        assert_eq!(&event.encode().unwrap(), golden, "{topic}");
    }
}

/// `[data: branch 1][field 1: branch 1]` then a string length or block count.
fn with_length_prefix(topic: Topic, array_field: bool, declared: i64) -> Vec<u8> {
    let fields_before = match (topic, array_field) {
        (Topic::Influencers, true) => 3,
        _ => 0,
    };
    let mut bytes = vec![2];
    bytes.extend(std::iter::repeat_n(0, fields_before));
    bytes.push(2);
    bytes.extend(zigzag_encode(declared));
    bytes.extend(b"abc");
    bytes
}

#[test]
fn a_huge_string_length_is_refused_before_allocating() {
    // Found by the harness: apache-avro allocates a string's buffer from its length prefix
    // (up to 512 MiB) before reading it. Corpus: avro/*/huge-string-length.bin.
    for declared in [1 << 20, 512 * 1024 * 1024, (1 << 31) - 1] {
        let bytes = with_length_prefix(Topic::Contratos, false, declared);
        let (error, peak) = with_peak(|| IntegrationEvent::decode(Topic::Contratos, &bytes));
        assert!(
            matches!(error, Err(DecodeError::Truncated { .. })),
            "{error:?}"
        );
        assert!(peak <= allocation_bound(bytes.len()), "{declared}: {peak}");
    }
}

#[test]
fn a_huge_array_block_count_is_refused_before_allocating() {
    // Found by the harness: apache-avro reserves a whole array block (count times the size
    // of a `Value`) before reading its first item: 7 bytes declaring 2^28 strings reserved
    // 12 GiB, and a larger count aborted the process. Corpus:
    // avro/eventos-influencers/huge-block-count.bin.
    for declared in [1 << 20, 1 << 28, -(1 << 28)] {
        let bytes = with_length_prefix(Topic::Influencers, true, declared);
        let (error, peak) = with_peak(|| IntegrationEvent::decode(Topic::Influencers, &bytes));
        assert!(error.is_err(), "{declared}: {error:?}");
        assert!(peak <= allocation_bound(bytes.len()), "{declared}: {peak}");
    }
}

#[test]
fn negative_lengths_are_a_typed_error() {
    let bytes = with_length_prefix(Topic::Contratos, false, -3);
    let error = IntegrationEvent::decode(Topic::Contratos, &bytes).unwrap_err();
    assert!(
        matches!(error, DecodeError::NegativeLength { declared: -3, .. }),
        "{error:?}"
    );
    assert_eq!(error.to_string(), "eventos-contratos: a length of -3");
}

// ---------------------------------------------------------------------------------------
// The push envelope and its base64.

/// Takes every topic, records what it is given.
#[derive(Default, Clone)]
struct Recorder {
    delivered: Arc<Mutex<Vec<EventDelivery>>>,
}

impl EventHandler for Recorder {
    fn topics(&self) -> &'static [Topic] {
        &Topic::ALL
    }

    async fn handle(&self, delivery: EventDelivery) -> Result<Handled, EventError> {
        self.delivered.lock().unwrap().push(delivery);
        Ok(Handled::Applied)
    }
}

struct Endpoint {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    recorder: Recorder,
}

struct Answer {
    status: StatusCode,
    body: String,
    delivered: Option<EventDelivery>,
}

impl Endpoint {
    fn new() -> Self {
        let recorder = Recorder::default();
        Self {
            runtime: tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime"),
            router: events_router(Arc::new(recorder.clone()), Arc::new(PushAuth::Disabled)),
            recorder,
        }
    }

    fn push(&self, body: Vec<u8>) -> Result<Answer, TestCaseError> {
        let input_len = body.len();
        let (answer, peak) = with_peak(|| {
            self.runtime.block_on(async {
                let request = Request::post("/events")
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("request");
                let response = self
                    .router
                    .clone()
                    .oneshot(request)
                    .await
                    .expect("infallible");
                let status = response.status();
                let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
                (status, String::from_utf8_lossy(&body).into_owned())
            })
        });
        let (status, body) = answer;
        // The JSON parser, base64 and Avro: a small multiple of the body, plus the router.
        prop_assert!(
            peak <= 64 * 1024 + 64 * input_len,
            "a push of {input_len} byte(s) allocated {peak} bytes at once"
        );
        prop_assert!(
            matches!(status.as_u16(), 200 | 204 | 400),
            "status {status}: {body}"
        );
        let delivered = self.recorder.delivered.lock().unwrap().pop();
        prop_assert_eq!(delivered.is_some(), status == StatusCode::NO_CONTENT);
        if status == StatusCode::BAD_REQUEST {
            prop_assert!(body.contains("\"status\":400"), "{body}");
        }
        Ok(Answer {
            status,
            body,
            delivered,
        })
    }
}

/// Strings matching `pattern`, parsed once (a `&str` strategy parses it for every case,
/// most of the time of a case in a debug build).
fn regex(pattern: &str) -> proptest::string::RegexGeneratorStrategy<String> {
    proptest::string::string_regex(pattern).expect("a valid pattern")
}

/// A JSON string value: text with NUL, control characters, non-ASCII, or empty.
fn fuzzy_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => regex("[a-zA-Z0-9:/._-]{0,24}"),
        1 => regex(".{0,16}"),
        1 => regex("[\\x00-\\x1f\u{7f}\u{fffd}\u{10ffff}a]{0,8}"),
        1 => Just(String::new()),
    ]
}

fn fuzzy_attribute_value(name: &'static str) -> BoxedStrategy<String> {
    match name {
        "pulsar_topic" => prop_oneof![
            3 => prop::sample::select(Topic::ALL.map(Topic::full_name).to_vec()).prop_map(str::to_owned),
            1 => prop::sample::select(Topic::ALL.map(Topic::name).to_vec()).prop_map(str::to_owned),
            1 => fuzzy_text(),
        ]
        .boxed(),
        "event_type" => prop_oneof![
            3 => prop::sample::select(vec!["CrearInfluencer", "InfluencerRegistrado", "CampanaCreada", "ContratoCreado", "ContratoError", "ReporteCreado", "Reporte", "Reporte\0"]).prop_map(str::to_owned),
            1 => fuzzy_text(),
        ]
        .boxed(),
        "event_id" => prop_oneof![
            2 => Just("0190f0a8-7c4e-7b6a-9d7e-3c1f2a4b5c6d".to_owned()),
            1 => fuzzy_text(),
        ]
        .boxed(),
        "occurred_at" | "pulsar_publish_time" => prop_oneof![
            2 => prop::sample::select(vec!["2025-09-20T10:00:00.123456", "2025-09-20T10:00:00Z", "+262143-12-31T23:59:59Z", "2025-02-30T25:61:61", "9999999999-01-01T00:00:00"]).prop_map(str::to_owned),
            1 => fuzzy_text(),
        ]
        .boxed(),
        _ => fuzzy_text().boxed(),
    }
}

/// Attributes as the bridge or a producer sets them, each present or not, fuzzed or not.
fn attributes() -> impl Strategy<Value = BTreeMap<String, String>> {
    let names = [
        "pulsar_topic",
        "pulsar_message_id",
        "pulsar_key",
        "pulsar_publish_time",
        "event_id",
        "event_type",
        "correlation_id",
        "causation_id",
        "occurred_at",
        "producer",
    ];
    let fields: Vec<_> = names
        .into_iter()
        .map(|name| {
            prop::option::weighted(0.4, fuzzy_attribute_value(name))
                .prop_map(move |value| (name, value))
        })
        .collect();
    (
        fields,
        prop::collection::btree_map(fuzzy_text(), fuzzy_text(), 0..3),
    )
        .prop_map(|(fields, extra)| {
            let mut attributes = extra;
            for (name, value) in fields {
                if let Some(value) = value {
                    attributes.insert(name.to_owned(), value);
                }
            }
            attributes
        })
}

/// A JSON value for a field that is usually a string or a number, sometimes not.
fn fuzzy_json(
    usual: BoxedStrategy<serde_json::Value>,
) -> impl Strategy<Value = Option<serde_json::Value>> {
    prop::option::weighted(
        0.8,
        prop_oneof![
            6 => usual,
            1 => Just(serde_json::Value::Null),
            1 => any::<i64>().prop_map(serde_json::Value::from),
            1 => any::<f64>().prop_map(serde_json::Value::from),
            1 => Just(serde_json::json!([])),
            1 => Just(serde_json::json!({"a": "\u{0}"})),
        ],
    )
}

#[derive(Debug, Clone)]
struct Envelope {
    topic: Topic,
    data: Option<serde_json::Value>,
    attributes: BTreeMap<String, String>,
    message_id: Option<serde_json::Value>,
    publish_time: Option<serde_json::Value>,
    /// The emulator's and the bridge's snake_case twins.
    snake_twins: bool,
    subscription: Option<serde_json::Value>,
    delivery_attempt: Option<serde_json::Value>,
}

impl Envelope {
    fn to_json(&self) -> serde_json::Value {
        let mut message = serde_json::Map::new();
        if let Some(data) = &self.data {
            message.insert("data".into(), data.clone());
        }
        message.insert("attributes".into(), serde_json::json!(self.attributes));
        for (camel, snake, value) in [
            ("messageId", "message_id", &self.message_id),
            ("publishTime", "publish_time", &self.publish_time),
        ] {
            if let Some(value) = value {
                message.insert(camel.into(), value.clone());
                if self.snake_twins {
                    message.insert(snake.into(), value.clone());
                }
            }
        }
        let mut envelope = serde_json::Map::new();
        envelope.insert("message".into(), message.into());
        if let Some(subscription) = &self.subscription {
            envelope.insert("subscription".into(), subscription.clone());
        }
        if let Some(attempt) = &self.delivery_attempt {
            envelope.insert("deliveryAttempt".into(), attempt.clone());
        }
        envelope.into()
    }
}

/// A topic and the base64 text of a `message.data`: of a mutated corpus entry of that
/// topic or of random bytes, as is or damaged (no padding, URL-safe alphabet, whitespace,
/// NUL, non-ASCII, a cut mid-quantum).
fn data_text() -> impl Strategy<Value = (Topic, String)> {
    let seeds: Vec<(Topic, Vec<u8>)> = Topic::ALL
        .into_iter()
        .flat_map(|topic| {
            avro_corpus(topic)
                .into_iter()
                .map(move |seed| (topic, seed))
        })
        .collect();
    let all = all_avro_seeds();
    let payload = prop_oneof![
        3 => (prop::sample::select(seeds), prop::collection::vec(mutation(), 0..3))
            .prop_map(move |((topic, seed), mutations)| (topic, apply(seed, &mutations, &all))),
        1 => (prop::sample::select(Topic::ALL.to_vec()), prop::collection::vec(any::<u8>(), 0..64)),
    ];
    let damage = prop_oneof![
        6 => Just(None),
        4 => (any::<Index>(), prop::sample::select(vec!["", "=", "==", "\0", "\n", " ", "-", "_", "ñ", "\u{fffd}", "\\", "\"", "A", "AA", "AAA", "====", "%"])).prop_map(Some),
    ];
    (
        payload,
        damage.clone(),
        any::<bool>(),
        prop::collection::vec(damage, 0..3),
    )
        .prop_map(|((topic, payload), first, strip_padding, more)| {
            let mut text = STANDARD.encode(payload);
            if strip_padding {
                text = text.trim_end_matches('=').to_owned();
            }
            for (at, inserted) in first.into_iter().chain(more.into_iter().flatten()) {
                let at = at.index(text.len() + 1);
                let at = (0..=at)
                    .rev()
                    .find(|&at| text.is_char_boundary(at))
                    .unwrap_or(0);
                text.insert_str(at, inserted);
            }
            (topic, text)
        })
}

/// An envelope in the Pub/Sub push shape, or in the bridge's (`topic_hint`: `pulsar_topic`
/// always names the topic).
fn envelope(topic_hint: bool) -> impl Strategy<Value = Envelope> {
    let data = (data_text(), prop::option::weighted(0.8, Just(())), 0..10u8).prop_map(
        |((topic, text), present, odd)| {
            let data = present.map(|()| match odd {
                0 => serde_json::Value::Null,
                1 => serde_json::Value::from(7),
                _ => serde_json::Value::from(text),
            });
            (topic, data)
        },
    );
    // `Some(None)`: the subscription names the topic.
    let subscription = prop::option::weighted(0.8, prop::option::weighted(0.3, fuzzy_text()));
    let attempt = prop_oneof![
        3 => (0u64..10).prop_map(serde_json::Value::from),
        1 => Just(serde_json::Value::from(u64::from(u32::MAX) + 1)),
        1 => Just(serde_json::Value::from(-1)),
    ]
    .boxed();
    (
        data,
        attributes(),
        fuzzy_json(fuzzy_text().prop_map(serde_json::Value::from).boxed()),
        fuzzy_json(
            prop_oneof![
                2 => Just("2026-01-01T00:00:00.123456789Z".to_owned()),
                1 => fuzzy_text(),
            ]
            .prop_map(serde_json::Value::from)
            .boxed(),
        ),
        any::<bool>(),
        subscription,
        fuzzy_json(attempt),
    )
        .prop_map(
            move |(
                (topic, data),
                mut attributes,
                message_id,
                publish_time,
                snake_twins,
                subscription,
                delivery_attempt,
            )| {
                if topic_hint {
                    attributes.insert("pulsar_topic".into(), topic.full_name().into());
                }
                let subscription = subscription.map(|text| {
                    text.unwrap_or_else(|| {
                        format!(
                            "projects/alpes/subscriptions/generate-report-{}",
                            topic.name()
                        )
                    })
                    .into()
                });
                Envelope {
                    topic,
                    data,
                    attributes,
                    message_id,
                    publish_time,
                    snake_twins,
                    subscription,
                    delivery_attempt,
                }
            },
        )
}

/// A well-formed JSON envelope through the endpoint, against what the decoders make of it:
/// handled exactly when its data is base64 of a record of the topic it names.
fn check_envelope(endpoint: &Endpoint, envelope: &Envelope) -> Result<(), TestCaseError> {
    let body = serde_json::to_vec(&envelope.to_json()).expect("serialize");
    let answer = endpoint.push(body)?;
    let data = match &envelope.data {
        None | Some(serde_json::Value::Null) => Some(String::new()),
        Some(serde_json::Value::String(text)) => Some(text.clone()),
        Some(_) => None,
    };
    let base64 = data.as_deref().map(|text| STANDARD.decode(text));
    let names_its_topic = envelope
        .attributes
        .get("pulsar_topic")
        .and_then(|name| Topic::from_name(name))
        == Some(envelope.topic);
    // Every field besides data has the type the envelope declares.
    let fields_ok = [
        &envelope.message_id,
        &envelope.publish_time,
        &envelope.subscription,
    ]
    .into_iter()
    .all(|value| {
        matches!(
            value,
            None | Some(serde_json::Value::String(_) | serde_json::Value::Null)
        )
    }) && envelope.delivery_attempt.as_ref().is_none_or(|attempt| {
        attempt.is_null() || attempt.as_u64().is_some_and(|n| n <= u64::from(u32::MAX))
    });
    if let Some(Err(_)) = &base64
        && names_its_topic
        && fields_ok
    {
        prop_assert_eq!(answer.status, StatusCode::BAD_REQUEST);
        prop_assert!(answer.body.contains("base64"), "{}", answer.body);
    }
    if let Some(delivery) = answer.delivered {
        let Some(Ok(bytes)) = base64 else {
            return Err(TestCaseError::fail(format!(
                "handled an envelope whose data is not base64: {:?}",
                envelope.data
            )));
        };
        // What was handled is what the Avro decoder makes of the data.
        let expected = IntegrationEvent::decode(delivery.topic, &bytes)
            .map_err(|error| TestCaseError::fail(format!("handled undecodable data: {error}")))?;
        prop_assert_eq!(
            delivery.event.encode().expect("encode"),
            expected.encode().expect("encode")
        );
        prop_assert!(delivery.attempt >= 1);
        // And it round-trips: the same event pushed again is handled again, identically.
        let mut again = envelope.clone();
        again.data = Some(
            STANDARD
                .encode(delivery.event.encode().expect("encode"))
                .into(),
        );
        let second = endpoint.push(serde_json::to_vec(&again.to_json()).expect("json"))?;
        prop_assert_eq!(second.status, StatusCode::NO_CONTENT);
        let second = second.delivered.expect("delivered");
        prop_assert_eq!(second.metadata.event_id, delivery.metadata.event_id);
        prop_assert_eq!(
            second.event.encode().expect("encode"),
            delivery.event.encode().expect("encode")
        );
    } else if let Some(Ok(bytes)) = &base64
        && names_its_topic
        && fields_ok
    {
        prop_assert!(
            IntegrationEvent::decode(envelope.topic, bytes).is_err(),
            "a readable envelope was refused: {}",
            answer.body
        );
    }
    Ok(())
}

/// Seeds for the JSON-ish bodies: the push corpus, and the envelopes built from each
/// golden payload.
fn push_seeds() -> Vec<Vec<u8>> {
    corpus("push").into_iter().map(|(_, body)| body).collect()
}

/// Text that is almost JSON: pieces of envelopes, escapes for NUL and lone surrogates,
/// raw bytes that are not UTF-8, deep nesting.
fn jsonish() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "{", "}", "[", "]", ":", ",", "\"", "null", "true", "0", "-1", "1e999", "4294967296",
            "\"message\"", "\"data\"", "\"attributes\"", "\"messageId\"", "\"message_id\"",
            "\"publishTime\"", "\"subscription\"", "\"deliveryAttempt\"", "\"pulsar_topic\"",
            "\"persistent://public/default/eventos-contratos\"", "\"event_type\"", "\"ContratoError\"",
            "\"\\u0000\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "\"AgA=\"", "\"AAAA\"", "\"%%%\"",
            "\\", "\\u", "\\u00", "\u{0}", " ", "\n",
        ])
        .prop_map(|piece| piece.as_bytes().to_vec()),
        1 => prop::sample::select(vec![
            vec![0xff], vec![0xc3, 0x28], vec![0xed, 0xa0, 0x80], vec![0xf4, 0x90, 0x80, 0x80],
            vec![0xe2, 0x82], vec![0x80], b"\"\xff\"".to_vec(),
        ]),
        1 => (1usize..200).prop_map(|depth| "[".repeat(depth).into_bytes()),
    ];
    let seeds = push_seeds();
    prop_oneof![
        2 => prop::collection::vec(piece.clone(), 0..32).prop_map(|pieces| pieces.concat()),
        1 => prop::collection::vec(any::<u8>(), 0..200),
        3 => (
            prop::sample::select(seeds),
            prop::collection::vec(mutation(), 1..5),
            prop::collection::vec((any::<Index>(), piece), 0..3),
        )
            .prop_map(|(seed, mutations, inserts)| {
                let mut body = apply(seed, &mutations, &[]);
                for (at, piece) in inserts {
                    let at = at.index(body.len() + 1);
                    body.splice(at..at, piece);
                }
                body
            }),
    ]
}

fn fuzz_push_pubsub(cases: u32) {
    let endpoint = Endpoint::new();
    run(cases, envelope(false), |envelope| {
        check_envelope(&endpoint, &envelope)
    });
}

fn fuzz_push_bridge(cases: u32) {
    let endpoint = Endpoint::new();
    run(cases, envelope(true), |envelope| {
        check_envelope(&endpoint, &envelope)
    });
}

fn fuzz_push_jsonish(cases: u32) {
    let endpoint = Endpoint::new();
    for (name, body) in corpus("push") {
        let answer = endpoint
            .push(body)
            .unwrap_or_else(|error| panic!("corpus {name}: {error}"));
        assert_eq!(
            answer.status,
            StatusCode::NO_CONTENT,
            "corpus {name}: {}",
            answer.body
        );
    }
    run(cases, jsonish(), |body| endpoint.push(body).map(drop));
}

/// The base64 decoding of `message.data` alone: every other field is valid, the topic is
/// named, only the text varies.
fn fuzz_base64(cases: u32) {
    let endpoint = Endpoint::new();
    let envelope_with = |topic: Topic, data: String| Envelope {
        topic,
        data: Some(data.into()),
        attributes: BTreeMap::from([("pulsar_topic".to_owned(), topic.full_name().to_owned())]),
        message_id: Some("1:2:-1:0".into()),
        publish_time: Some("2026-01-01T00:00:00Z".into()),
        snake_twins: false,
        subscription: None,
        delivery_attempt: Some(1.into()),
    };
    for (name, text) in corpus("base64") {
        // Named after the topic (the longest name that prefixes the file name).
        let topic = Topic::ALL
            .into_iter()
            .filter(|topic| name.starts_with(topic.name()))
            .max_by_key(|topic| topic.name().len())
            .unwrap_or(Topic::Contratos);
        let text = String::from_utf8(text).expect("base64 corpus is text");
        check_envelope(&endpoint, &envelope_with(topic, text))
            .unwrap_or_else(|error| panic!("corpus {name}: {error}"));
    }
    run(cases, data_text(), |(topic, text)| {
        check_envelope(&endpoint, &envelope_with(topic, text))
    });
}

#[test]
fn push_pubsub() {
    fuzz_push_pubsub(FAST_CASES);
}

#[test]
fn slow_push_pubsub() {
    fuzz_push_pubsub(SLOW_CASES);
}

#[test]
fn push_bridge() {
    fuzz_push_bridge(FAST_CASES);
}

#[test]
fn slow_push_bridge() {
    fuzz_push_bridge(SLOW_CASES);
}

#[test]
fn push_jsonish() {
    fuzz_push_jsonish(FAST_CASES);
}

#[test]
fn slow_push_jsonish() {
    fuzz_push_jsonish(SLOW_CASES);
}

#[test]
fn base64_data() {
    fuzz_base64(FAST_CASES);
}

#[test]
fn slow_base64_data() {
    fuzz_base64(SLOW_CASES);
}
