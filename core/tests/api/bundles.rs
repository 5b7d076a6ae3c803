//! Tenant configuration as data through the API: apply, validation errors with locations,
//! all-or-nothing, versions, diff and rollback.

use reqwest::Method;
use serde_json::{json, Value};

use crate::kit::{assert_problem, demo_bundle, Server};

async fn versions(server: &Server, token: &str) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/admin/bundle/versions", token).await;
    assert_eq!(status, 200, "{body}");
    body["versions"].as_array().unwrap().clone()
}

async fn put_files(
    server: &Server,
    token: &str,
    files: &std::collections::BTreeMap<String, String>,
) -> (u16, Value) {
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(token),
            Some(json!({ "files": files })),
        )
        .await;
    (status.as_u16(), body)
}

async fn put_yaml(server: &Server, token: &str, yaml: &str) -> (u16, Value) {
    let resp = server
        .client
        .put(format!("{}/api/v1/admin/bundle", server.base))
        .bearer_auth(token)
        .header("content-type", "application/yaml")
        .body(yaml.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_bundle_changes_nothing_and_reports_every_error() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let before = versions(&server, &admin).await;
    let (_, profile_before) = server.get("/api/v1/tenant", &admin).await;
    let good = demo_bundle("aurora-motors")["tenant.yaml"].clone();
    // Two meaning errors in one upload: a store in an unknown region, and an unknown action.
    let broken = good
        .replacen("region: east", "region: atlantis", 1)
        .replacen("store.read", "store.raed", 1);
    assert_ne!(broken, good);
    let (status, body) = put_yaml(&server, &admin, &broken).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["code"], "bundle_invalid");
    let errors = body["errors"].as_array().unwrap();
    let codes: Vec<&str> = errors.iter().map(|e| e["code"].as_str().unwrap()).collect();
    assert!(
        codes.contains(&"org.unknown_region") && codes.contains(&"role.unknown_action"),
        "{codes:?}"
    );
    for e in errors.iter().filter(|e| e["severity"] == "error") {
        assert_eq!(e["file"], "tenant.yaml");
        assert!(
            e["line"].as_u64().unwrap() > 0 && e["column"].as_u64().unwrap() > 0,
            "{e}"
        );
        assert!(e["pointer"].as_str().unwrap().starts_with('/'), "{e}");
    }
    let region_err = errors
        .iter()
        .find(|e| e["code"] == "org.unknown_region")
        .unwrap();
    let line = region_err["line"].as_u64().unwrap() as usize;
    assert!(
        broken.lines().nth(line - 1).unwrap().contains("atlantis"),
        "line {line} does not hold the bad region"
    );
    assert!(
        errors
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("store.read")),
        "a did-you-mean hint: {errors:?}"
    );

    // Malformed YAML and a shape error: 422 with a location, nothing applied.
    let (status, body) = put_yaml(&server, &admin, "schema_version: 1\ntenant: [unclosed\n").await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "yaml.syntax");
    assert_eq!(body["errors"][0]["line"], 3, "{body}");
    let (status, body) = put_yaml(
        &server,
        &admin,
        &good.replacen("schema_version: 1", "schema_version: 1\ncolour: blue", 1),
    )
    .await;
    assert_eq!(status, 422);
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "schema.additional_property"),
        "{body}"
    );

    assert_eq!(
        versions(&server, &admin).await,
        before,
        "a failed apply must not add a version"
    );
    assert_eq!(server.get("/api/v1/tenant", &admin).await.1, profile_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_diff_and_rollback() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let (good, changed) = crate::kit::aurora_with_sales_org_read();
    // Re-applying the same content is a no-op.
    let (status, same) = put_files(&server, &admin, &good).await;
    assert_eq!(status, 200, "{same}");
    assert_eq!(same["changed"], false);
    assert_eq!(same["version"], 1);
    // A YAML upload replaces tenant.yaml only: the catalog and scripts stay, so the same
    // tenant.yaml is no change either.
    let (status, yaml_same) = put_yaml(&server, &admin, &good["tenant.yaml"]).await;
    assert_eq!(status, 200, "{yaml_same}");
    assert_eq!(yaml_same["changed"], false, "{yaml_same}");

    // A meaningful change: the sales consultant now also reads the org tree.
    let sales = server.login("aurora", "sales.sh01@aurora.example").await;
    assert_eq!(server.get("/api/v1/org", &sales).await.0, 403);
    let (status, v2) = put_files(&server, &admin, &changed).await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(v2["changed"], true);
    assert_ne!(v2["hash"], same["hash"]);
    // Takes effect at once, with no restart.
    assert_eq!(server.get("/api/v1/org", &sales).await.0, 200);

    let (status, diff) = server
        .get("/api/v1/admin/bundle/diff?from=1&to=2", &admin)
        .await;
    assert_eq!(status, 200, "{diff}");
    let changes = diff["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["file"], "tenant.yaml");
    assert!(
        changes[0]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/roles/"),
        "{changes:?}"
    );

    let (status, v3) = server
        .call(
            Method::POST,
            "/api/v1/admin/bundle/rollback",
            Some(&admin),
            Some(json!({ "version": 1 })),
        )
        .await;
    assert_eq!(status, 200, "{v3}");
    assert_eq!(v3["version"], 3);
    assert_eq!(v3["hash"], same["hash"]);
    assert_eq!(
        server.get("/api/v1/org", &sales).await.0,
        403,
        "rollback restores the earlier scopes"
    );
    let list = versions(&server, &admin).await;
    assert_eq!(list.len(), 3);
    assert_eq!(list[0]["version"], 3);
    assert_eq!(list[0]["active"], true);
    assert_eq!(list[0]["origin"], "rollback");
    assert_eq!(list[0]["based_on"], 1);
    let (status, v1) = server.get("/api/v1/admin/bundle/versions/1", &admin).await;
    assert_eq!(status, 200);
    assert_eq!(v1["files"]["tenant.yaml"], good["tenant.yaml"].as_str());
    let (status, body) = server.get("/api/v1/admin/bundle/versions/99", &admin).await;
    assert_problem(status, &body, 404, "not_found");
    let (_, audit) = server.get("/api/v1/audit", &admin).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"bundle.apply") && actions.contains(&"bundle.rollback"),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_and_roles_in_use_cannot_disappear() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let good = demo_bundle("aurora-motors")["tenant.yaml"].clone();
    // Rename a store that a demo user belongs to (and no dealer offer names).
    let renamed = good.replace("code: cq01", "code: cq01-new");
    let (status, body) = put_yaml(&server, &admin, &renamed).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "org.unit_in_use"
                && e["message"].as_str().unwrap().contains("cq01")),
        "{body}"
    );
    assert_eq!(versions(&server, &admin).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_for_another_tenant_and_dry_run() {
    let server = Server::demo().await;
    let admin = server.login("shudao", "admin@shudao.example").await;
    let (status, body) = server
        .call(
            Method::PUT,
            "/api/v1/admin/bundle",
            Some(&admin),
            Some(json!({ "files": demo_bundle("aurora-motors") })),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "bundle.wrong_tenant"),
        "{body}"
    );
    let (status, dry) = server
        .call(
            Method::POST,
            "/api/v1/admin/bundle/validate",
            Some(&admin),
            Some(json!({ "files": demo_bundle("shudao-auto-group") })),
        )
        .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["valid"], true);
    let (status, dry) = server
        .call(
            Method::POST,
            "/api/v1/admin/bundle/validate",
            Some(&admin),
            Some(json!({ "files": { "tenant.yaml": "a: [" } })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(dry["valid"], false);
    assert_eq!(dry["diagnostics"][0]["code"], "yaml.syntax");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_yaml_is_rejected_fast() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let bomb = "a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n\
        b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n\
        e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n\
        h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\ni: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]\n";
    let started = std::time::Instant::now();
    let (status, body) = put_yaml(&server, &admin, bomb).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let (status, body) = put_yaml(&server, &admin, &deep).await;
    assert_eq!(status, 422, "{body}");
    // Over the upload limit: 413 before anything is parsed.
    let huge = "x".repeat(17 * 1024 * 1024);
    crate::kit::assert_refused_as_too_large(
        crate::kit::one_shot_client()
            .put(format!("{}/api/v1/admin/bundle", server.base))
            .bearer_auth(&admin)
            .header("content-type", "application/yaml")
            .body(huge),
    )
    .await;
    // The server keeps serving.
    assert_eq!(server.get("/api/v1/me", &admin).await.0, 200);
    assert_eq!(versions(&server, &admin).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_rule_never_goes_live() {
    let server = Server::demo().await;
    let admin = server.login("aurora", "admin@aurora.example").await;
    let mut files = demo_bundle("aurora-motors");
    // A script that no longer compiles, and one whose own test cases now fail.
    files.insert(
        "scripts/pricing.adjust.rhai".into(),
        "fn adjust_price(input) {\n  let x = ;\n}\n".into(),
    );
    let tax = files["scripts/tax.purchase.rhai"].clone();
    files.insert(
        "scripts/tax.purchase.rhai".into(),
        tax.replace("1500000", "1600000")
            .replace("1_500_000", "1_600_000"),
    );
    let (status, body) = put_files(&server, &admin, &files).await;
    assert_eq!(status, 422, "{body}");
    let errors = body["errors"].as_array().unwrap();
    let compile = errors
        .iter()
        .find(|e| e["code"] == "script.compile")
        .expect("compile error reported");
    assert_eq!(compile["file"], "scripts/pricing.adjust.rhai");
    assert_eq!(compile["line"], 2);
    assert!(
        errors.iter().any(|e| e["code"] == "script.test_failed"
            && e["file"]
                .as_str()
                .unwrap()
                .starts_with("scripts/tax.purchase")),
        "{body}"
    );
    assert_eq!(
        versions(&server, &admin).await.len(),
        1,
        "nothing was applied"
    );
}
