//! The `forecourt` binary as an operator uses it: validate, apply, tenant list, a server that
//! drains and exits cleanly on SIGTERM, and the personal-data key a server needs.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::kit::{examples_dir, fresh_database};

fn forecourt(db: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_forecourt"));
    cmd.arg("--database-url")
        .arg(db)
        .env("FORECOURT_LOG", "warn")
        .env_remove("FORECOURT_PII_KEY");
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
        .env("FORECOURT_PII_KEY", "ab".repeat(32))
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workflow_commands_validate_draw_simulate_publish_and_list() {
    let db = fresh_database().await;
    let aurora = examples_dir().join("aurora-motors");
    let definition = aurora.join("bundle/workflows/test_drive_review.yaml");
    let run = |args: &[&std::ffi::OsStr]| forecourt(&db).args(args).output().unwrap();
    let out = run(&[
        "workflow".as_ref(),
        "validate".as_ref(),
        "--bundle".as_ref(),
        aurora.join("bundle").as_os_str(),
        definition.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid workflow `test_drive_review`"));

    // A broken definition: every problem with file:line:column, exit 1.
    let broken = std::env::temp_dir().join(format!("wf-{}.yaml", uuid::Uuid::now_v7().simple()));
    std::fs::write(&broken, "id: x\nsubject: y\nstates:\n  - name: a\n    initial: true\n  - name: b\ntransitions: []\n").unwrap();
    let out = run(&["workflow".as_ref(), "validate".as_ref(), broken.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":4:") && stderr.contains("workflow.dead_end"),
        "{stderr}"
    );
    assert!(
        stderr.contains(":6:") && stderr.contains("workflow.unreachable_state"),
        "{stderr}"
    );

    let out = run(&[
        "workflow".as_ref(),
        "graph".as_ref(),
        definition.as_os_str(),
    ]);
    let graph = String::from_utf8_lossy(&out.stdout);
    assert!(
        graph.starts_with("stateDiagram-v2\n    [*] --> requested"),
        "{graph}"
    );
    assert!(
        graph.contains("requested --> cancelled: expire (timer review_deadline, PT24H)"),
        "{graph}"
    );

    let events = aurora.join("simulations/test-drive-review.yaml");
    let out = run(&[
        "workflow".as_ref(),
        "simulate".as_ref(),
        definition.as_os_str(),
        "--events".as_ref(),
        events.as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("refused [workflow.forbidden]"),
        "{printed}"
    );
    assert!(printed.contains("requested -> approved"), "{printed}");
    assert!(
        printed.contains("timer slot_finished by system: approved -> completed"),
        "{printed}"
    );
    assert!(printed.trim_end().ends_with("ended in closed"), "{printed}");

    // Publish to a tenant (applied with its bundle: v1 from the bundle), then list.
    let out = run(&[
        "apply".as_ref(),
        "--create".as_ref(),
        aurora.join("bundle").as_os_str(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "workflow".as_ref(),
        "publish".as_ref(),
        definition.as_os_str(),
        "--tenant".as_ref(),
        "aurora".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged: test_drive_review v1"));
    let changed = std::env::temp_dir().join(format!("wf-{}.yaml", uuid::Uuid::now_v7().simple()));
    let text = std::fs::read_to_string(&definition)
        .unwrap()
        .replace("after: PT24H", "after: PT12H");
    std::fs::write(&changed, text).unwrap();
    let out = run(&[
        "workflow".as_ref(),
        "publish".as_ref(),
        changed.as_os_str(),
        "--tenant".as_ref(),
        "aurora".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("published test_drive_review v2"));
    let out = run(&[
        "workflow".as_ref(),
        "deprecate".as_ref(),
        "--tenant".as_ref(),
        "aurora".as_ref(),
        "test_drive_review".as_ref(),
        "2".as_ref(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&[
        "workflow".as_ref(),
        "list".as_ref(),
        "--tenant".as_ref(),
        "aurora".as_ref(),
    ]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        listed.contains("test_drive_review v2 deprecated")
            && listed.contains("test_drive_review v1 published"),
        "{listed}"
    );
}

async fn wait_ready(port: u16, child: &mut std::process::Child) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
        {
            if r.status() == 200 {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the server exited before it was ready"
        );
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_needs_a_personal_data_key_except_the_sqlite_demo() {
    let dir = std::env::temp_dir()
        .join("forecourt-tests")
        .join(format!("pii-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = format!("sqlite://{}", dir.join("demo.db").display());
    let refused = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).to_string()
    };
    // No key outside the demo: a clear refusal, before anything is served.
    let stderr = refused(forecourt(&db).args(["serve", "--listen", "127.0.0.1:0"]));
    assert!(
        stderr.contains("FORECOURT_PII_KEY") && stderr.contains("--pii-key-file"),
        "{stderr}"
    );
    let stderr = refused(
        forecourt(&db)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("FORECOURT_PII_KEY", "not-hex"),
    );
    assert!(stderr.contains("64 hex characters"), "{stderr}");
    let short = dir.join("short.key");
    std::fs::write(&short, b"0123").unwrap();
    let stderr = refused(forecourt(&db).args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--pii-key-file",
        short.to_str().unwrap(),
    ]));
    assert!(stderr.contains("32 raw bytes"), "{stderr}");
    assert!(!dir.join("forecourt-pii.key").exists());

    // The demo on SQLite makes a key file (0600) next to the database once, then reuses it.
    let mut key = String::new();
    for round in 0..2 {
        let port = free_port();
        let mut child = forecourt(&db)
            .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_ready(port, &mut child).await;
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let file = dir.join("forecourt-pii.key");
        let now = std::fs::read_to_string(&file).unwrap();
        assert_eq!(now.trim().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&file).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        if round == 0 {
            assert!(stdout.contains("demo key created in"), "{stdout}");
            key = now;
        } else {
            assert!(stdout.contains("demo key read from"), "{stdout}");
            assert_eq!(now, key, "the same key on every start");
        }
        // The key itself is never printed or logged.
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stdout.contains(key.trim()) && !stderr.contains(key.trim()));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
