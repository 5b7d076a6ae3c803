//! The `forecourt` binary as an operator uses it: validate, apply, tenant list, and a server
//! that drains and exits cleanly on SIGTERM.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::{examples_dir, fresh_database};

fn forecourt(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forecourt"));
    cmd.arg("--database-url")
        .arg(db)
        .env("FORECOURT_LOG", "warn");
    cmd
}

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tenant-config/tests/fixtures/broken")
        .join(name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reports_locations_and_apply_is_idempotent() {
    let db = fresh_database().await;
    let ok = forecourt(&db)
        .arg("validate")
        .arg(examples_dir().join("aurora-motors/bundle"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("is valid: tenant aurora"));
    let broken = std::fs::read_dir(fixture(""))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let bad = forecourt(&db)
        .arg("validate")
        .arg(&broken)
        .output()
        .unwrap();
    assert_eq!(
        bad.status.code(),
        Some(1),
        "broken bundle {} must fail",
        broken.display()
    );
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("error"), "{stderr}");

    let apply = |create: bool| {
        let mut cmd = forecourt(&db);
        cmd.arg("apply")
            .arg(examples_dir().join("shudao-auto-group/bundle"));
        if create {
            cmd.arg("--create");
        }
        cmd.output().unwrap()
    };
    let missing = apply(false);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("does not exist"));
    let first = apply(true);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied shudao as version 1"));
    let again = apply(true);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("unchanged"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let list = forecourt(&db).args(["tenant", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&list.stdout).contains("shudao"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_drains_and_exits_on_sigterm() {
    let db = fresh_database().await;
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut child = forecourt(&db)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(exit) = child.try_wait().unwrap() {
            assert!(exit.success(), "exit after SIGTERM: {exit}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
