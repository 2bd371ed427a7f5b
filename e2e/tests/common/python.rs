//! The e2e tests' Python side: the venv `scripts/python-env.sh` prepares (the official
//! Pulsar client for the interop test, schemathesis for the OpenAPI conformance test) and a
//! bounded way to run its programs.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

/// Creating the venv the first time installs the pinned packages from PyPI; later runs
/// check a hash.
pub const PYTHON_ENV_TIMEOUT: Duration = Duration::from_secs(600);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate is inside the repository")
        .to_path_buf()
}

fn create(path: &Path) -> Result<File, String> {
    File::create(path).map_err(|error| format!("cannot create {}: {error}", path.display()))
}

/// Runs `command` with its stdout and stderr into the given files (the same path: one file,
/// both streams in the order written), killing it after `timeout`. `Err` says why it did not
/// finish (could not start, timed out).
pub async fn run_bounded(
    mut command: Command,
    stdout: &Path,
    stderr: &Path,
    timeout: Duration,
) -> Result<ExitStatus, String> {
    let out = create(stdout)?;
    let err = if stderr == stdout {
        out.try_clone()
            .map_err(|error| format!("a second handle on {}: {error}", stdout.display()))?
    } else {
        create(stderr)?
    };
    let mut child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|error| format!("cannot start {command:?}: {error}"))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{command:?} did not finish within {timeout:?}"));
            }
            Err(error) => return Err(format!("waiting for {command:?}: {error}")),
        }
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| format!("({}: {error})", path.display()))
}

/// `scripts/python-env.sh`: the venv's python. Run before the environment starts, so a first
/// install does not hold the e2e run lock.
pub async fn python_env() -> PathBuf {
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "python-env-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&scratch)
        .unwrap_or_else(|error| panic!("cannot create {}: {error}", scratch.display()));
    let (stdout, stderr) = (scratch.join("stdout"), scratch.join("stderr"));
    let script = repo_root().join("scripts/python-env.sh");
    let mut command = Command::new("bash");
    command.arg(&script).current_dir(repo_root());
    let outcome = run_bounded(command, &stdout, &stderr, PYTHON_ENV_TIMEOUT).await;
    let (printed, messages) = (read(&stdout), read(&stderr));
    let _ = std::fs::remove_dir_all(&scratch);
    match outcome {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{} failed ({status}):\n{messages}", script.display()),
        Err(error) => panic!("{error}:\n{messages}"),
    }
    if !messages.trim().is_empty() {
        eprintln!("{}", messages.trim_end());
    }
    let python = printed
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("{} printed no python path", script.display()));
    assert!(
        python.is_file(),
        "{} printed {}, which is not a file",
        script.display(),
        python.display()
    );
    python
}
