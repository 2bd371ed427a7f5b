#!/usr/bin/env python3
"""What a function binary is made of (issue 17): its sections, and its code by crate.

    CARGO_TARGET_DIR=target/bench-profile CARGO_PROFILE_RELEASE_STRIP=false \\
      cargo build --release -p register-influencer
    scripts/bench/bloat.py target/bench-profile/release/register-influencer [TOP]

The release profile strips symbols, so this needs a build that keeps them (the command
above: the same optimisation, only not stripped). Sections come from `size -A`; the code
is attributed to crates by the first path segment of each demangled function symbol
(`nm -S -C`), as `cargo bloat --crates` does: generic code instantiated for another
crate counts for the crate that defines it, so the figures are a guide, not a ledger.
"""

import collections
import re
import subprocess
import sys


def sections(binary):
    out = subprocess.run(["size", "-A", binary], capture_output=True, text=True, check=True).stdout
    sizes = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sizes[parts[0]] = int(parts[1])
    return sizes


# C symbols of aws-lc (the one rustls crypto backend), by their usual prefixes.
AWS_LC = re.compile(r"^(aws_lc|bn_|BN_|ec_|EC_|RSA|rsa_|EVP|CRYPTO|OPENSSL|ASN1|asn1|X509|x509|d2i_|i2d_|"
                    r"PEM|ERR|HMAC|BIO|CBB|CBS|OBJ|ECDSA|ECDH|PKCS|pkcs|sha|SHA|aes|AES|gcm|GCM|"
                    r"chacha|poly1305|x25519|ed25519|ED25519|curve25519|fiat|p256|p384|p521|ecp_|"
                    r"kyber|ml_kem|ml_dsa|KYBER|MLKEM|MLDSA|Keccak|SHAKE|jent|RAND|HKDF|md5|MD5|DH_|DSA|"
                    r"s2n|bignum|beeu|rsaz|GFp|dilithium|pqcrystals)")


def crate_of(symbol):
    text = symbol.lstrip("<&*( ")
    text = re.sub(r"^(dyn |mut |const |impl )", "", text)
    match = re.match(r"([A-Za-z_][A-Za-z0-9_]*)::", text)
    if match:
        return match.group(1)
    if AWS_LC.match(text):
        return "[aws-lc, C]"
    return "[other C or unnamed]"


def code_by_crate(binary):
    out = subprocess.run(["nm", "-S", "-C", "--defined-only", binary],
                         capture_output=True, text=True, check=True).stdout
    sizes = collections.Counter()
    for line in out.splitlines():
        # address, size, type, name; symbols without a size are left out.
        match = re.match(r"^[0-9a-f]+ ([0-9a-f]+) [tTwW] (.*)$", line)
        if match:
            sizes[crate_of(match.group(2))] += int(match.group(1), 16)
    return sizes


def main(argv):
    if not argv:
        raise SystemExit(__doc__)
    binary, top = argv[0], int(argv[1]) if len(argv) > 1 else 25
    mib = 1024 * 1024
    sizes = sections(binary)
    print(f"{binary}")
    for name in (".text", ".rodata", ".data.rel.ro", ".rela.dyn", ".eh_frame", ".gcc_except_table", ".data", ".bss"):
        if name in sizes:
            print(f"  {name:<18} {sizes[name] / mib:7.2f} MiB")
    crates = code_by_crate(binary)
    total = sum(crates.values())
    print(f"  code in function symbols: {total / mib:.2f} MiB, by crate:")
    for crate, size in crates.most_common(top):
        print(f"    {crate:<28} {size / mib:6.2f} MiB  {100 * size / total:5.1f}%")


if __name__ == "__main__":
    main(sys.argv[1:])
