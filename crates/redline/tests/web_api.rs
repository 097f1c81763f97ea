//! The page's own endpoints: the embedded page and assets, `/api/config`, and every
//! `/api/stats/*` checked against `redline report` on the same transcripts.

mod common;

use common::{Daemon, Home, response};
use serde_json::Value;

fn json(d: &Daemon, path: &str) -> Value {
    let r = d.get(path);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    assert!(r.head.contains("content-type: application/json"), "{path}");
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn page_assets_and_config() {
    let home = Home::new();
    let d = Daemon::start(
        &home,
        &["--tach-redline", "30000", "--cost-full-scale", "80"],
    );
    let r = d.get("/");
    assert_eq!(r.status, 200);
    assert!(r.head.contains("text/html") && r.body.contains("/assets/app.js"));
    for (path, kind) in [
        ("/assets/app.js", "text/javascript"),
        ("/assets/style.css", "text/css"),
    ] {
        let r = d.get(path);
        assert_eq!(r.status, 200, "{path}");
        assert!(r.head.contains(kind), "{path}: {}", r.head);
    }
    assert_eq!(d.get("/assets/nope.js").status, 404);
    let c = json(&d, "/api/config");
    assert_eq!(
        (
            c["tach_redline"].as_u64(),
            c["cost_full_scale_usd"].as_f64()
        ),
        (Some(30_000), Some(80.0))
    );
    // The dials as redline-core draws them: the mounted needles, each face's labels,
    // full scale and zones (in needle positions), the lamps in panel order.
    assert_eq!(
        c["needles"],
        serde_json::json!(["fuel", "tach", "temp", "boost"])
    );
    assert_eq!(c["dials"]["tach"]["full_scale"], 37_500.0);
    assert_eq!(
        c["dials"]["tach"]["zones"],
        serde_json::json!([{"from": 0.8, "to": 1.0, "color": "red"}])
    );
    assert_eq!(
        c["dials"]["temp"]["zones"],
        serde_json::json!([
            {"from": 0.0, "to": 0.2, "color": "blue"},
            {"from": 0.2, "to": 0.6, "color": "white"},
            {"from": 0.6, "to": 1.0, "color": "red"}
        ])
    );
    assert_eq!(c["dials"]["fuel"]["low"], "E");
    assert_eq!(c["dials"]["boost"]["zones"][0]["to"], 0.5);
    assert_eq!(c["dials"]["cost"]["full_scale"], 80.0);
    assert_eq!(c["dials"].as_object().unwrap().len(), 7);
    let lamps: Vec<&str> = c["lamps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(lamps, ["model", "hot", "warn", "stall", "idle"]);
    assert_eq!(c["lamps"][1]["color"], "#e0301e");
    assert_eq!(c["thresholds"]["warn_used"], 0.8);
    assert_eq!(c["thresholds"]["stall_after_s"], 180);
    // Another choice of needles and zones reaches the page as configured.
    let home = Home::new();
    std::fs::create_dir_all(home.dir.join("config/redline")).unwrap();
    std::fs::write(
        home.dir.join("config/redline/config.toml"),
        "needles = [\"cost\", \"boost\", \"context\", \"tach\"]\n[zones]\ncache_floor = 0.7\n",
    )
    .unwrap();
    let d = Daemon::start(&home, &[]);
    let c = json(&d, "/api/config");
    assert_eq!(
        c["needles"],
        serde_json::json!(["cost", "boost", "context", "tach"])
    );
    assert_eq!(c["dials"]["boost"]["zones"][0]["to"], 0.7);
    let u = json(&d, "/usage");
    assert_eq!(u["needles"], c["needles"]);
    let keys: Vec<&str> = u["gauges"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 4);
    for k in ["cost", "boost", "context", "tach"] {
        assert!(keys.contains(&k), "{k}: {u}");
    }
}

#[test]
fn stats_agree_with_the_reports() {
    let home = Home::new();
    // A history written today and yesterday (UTC), in two projects.
    let now = jiff::Timestamp::now();
    for (i, (project, back_h, out)) in [("alpha", 0, 500), ("alpha", 1, 700), ("beta", 26, 900)]
        .iter()
        .enumerate()
    {
        let ts = (now - jiff::SignedDuration::from_hours(*back_h))
            .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string();
        let line = replace_timestamp(&response(&format!("r{i}"), *out), &ts);
        home.append(&format!("{project}/s{i}.jsonl"), &line);
    }
    let d = Daemon::start(&home, &[]);
    let daily = json(&d, "/api/stats/daily?days=7");
    let report: Value = serde_json::from_slice(
        &common::redline()
            .args(["report", "daily", "--json", "--timezone", "UTC"])
            .env("CLAUDE_CONFIG_DIR", home.claude())
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let rows = daily["rows"].as_array().unwrap();
    let want = report["daily"].as_array().unwrap();
    assert_eq!(rows.len(), want.len(), "{daily}");
    for (got, want) in rows.iter().zip(want) {
        assert_eq!(got["date"], want["date"]);
        assert_eq!(got["tokens"]["total"], want["totalTokens"]);
        assert!((got["cost"].as_f64().unwrap() - want["totalCost"].as_f64().unwrap()).abs() < 1e-4);
    }
    let projects = json(&d, "/api/stats/projects?days=7");
    let names: Vec<&str> = projects["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["project"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{projects}");
    let sessions = json(&d, "/api/stats/sessions?days=7&limit=2");
    assert_eq!(sessions["rows"].as_array().unwrap().len(), 2);
    let cache = json(&d, "/api/stats/cache?days=7");
    assert_eq!(cache["hit_ratio"], 0.0, "no cache reads in these responses");
    let hours = json(&d, "/api/stats/hours?days=7");
    let total: u64 = hours["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, daily["total_tokens"]["total"].as_u64().unwrap());
    let blocks = json(&d, "/api/stats/blocks?days=7");
    let block_tokens: u64 = blocks["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["tokens"].as_u64().unwrap())
        .sum();
    assert_eq!(block_tokens, total);
    assert_eq!(json(&d, "/api/stats")["stats"].as_array().unwrap().len(), 7);
    // Thinking: the same figures as the report's thinkingTokens, day by day.
    let thinking = json(&d, "/api/stats/thinking?days=7");
    for (got, want) in thinking["rows"].as_array().unwrap().iter().zip(want) {
        assert_eq!(got["date"], want["date"]);
        assert_eq!(got["thinking_tokens"], want["thinkingTokens"], "{thinking}");
        assert_eq!(got["output_tokens"], want["outputTokens"]);
    }
    // By model: these responses are all one model's.
    let by_model = thinking["by_model"].as_array().unwrap();
    assert_eq!(by_model.len(), 1, "{thinking}");
    assert_eq!(by_model[0]["model"], "claude-sonnet-4-5");
    assert_eq!(
        by_model[0]["output_tokens"],
        thinking["overall"]["output_tokens"]
    );
    assert_eq!(rows[0]["cache_hit_rate"], want[0]["cacheHitRate"]);
    // A window of one day leaves yesterday out.
    let today = json(&d, "/api/stats/daily?days=1");
    assert!(today["rows"].as_array().unwrap().len() <= rows.len());
    // Bad requests.
    assert_eq!(d.get("/api/stats/weather").status, 404);
    assert_eq!(d.get("/api/stats/daily?days=0").status, 400);
    assert_eq!(d.get("/api/stats/daily?days=lots").status, 400);
}

#[test]
fn all_of_history_runs_from_the_first_day_with_data_to_today() {
    let home = Home::new();
    // Responses 40 days ago and today (UTC), nothing between.
    let now = jiff::Timestamp::now();
    let old = now - jiff::SignedDuration::from_hours(40 * 24);
    for (i, at) in [old, now].iter().enumerate() {
        let ts = at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
        home.append(
            &format!("alpha/s{i}.jsonl"),
            &replace_timestamp(&response(&format!("r{i}"), 300), &ts),
        );
    }
    let d = Daemon::start(&home, &[]);
    let today = now.strftime("%Y-%m-%d").to_string();
    let first = old.strftime("%Y-%m-%d").to_string();
    let all = json(&d, "/api/stats/daily?days=all");
    assert_eq!(
        (&all["since"], &all["until"], &all["days"], &all["range"]),
        (
            &Value::from(first.clone()),
            &Value::from(today.clone()),
            &Value::from(41),
            &Value::from("all")
        ),
        "{all}"
    );
    assert_eq!(all["from"], format!("{first}T00:00:00Z"));
    let dates: Vec<&str> = all["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, [first.as_str(), today.as_str()]);
    // Every stat takes it, and the same days.
    for name in [
        "blocks", "projects", "cache", "thinking", "sessions", "hours",
    ] {
        let v = json(&d, &format!("/api/stats/{name}?days=all"));
        assert_eq!(
            (&v["since"], &v["days"]),
            (&all["since"], &all["days"]),
            "{name}: {v}"
        );
    }
    let blocks = json(&d, "/api/stats/blocks?days=all");
    assert_eq!(blocks["rows"].as_array().unwrap().len(), 2, "{blocks}");
    // A count of days still ends today and leaves the old day out.
    let month = json(&d, "/api/stats/daily?days=30");
    assert_eq!(
        (&month["days"], &month["range"]),
        (&Value::from(30), &Value::from(30))
    );
    assert_eq!(month["rows"].as_array().unwrap().len(), 1, "{month}");
    for bad in ["367", "0", "-1", "ALL", "some"] {
        let r = d.get(&format!("/api/stats/daily?days={bad}"));
        assert_eq!(r.status, 400, "days={bad}");
        assert!(r.body.contains("or all"), "{}", r.body);
    }
}

#[test]
fn the_page_needs_the_token_beyond_loopback() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--token", "s3cret-token"]);
    for path in [
        "/",
        "/assets/app.js",
        "/api/config",
        "/faces/tach.svg",
        "/api/stats/daily",
    ] {
        assert_eq!(d.get(path).status, 401, "{path}");
    }
    // The link with the token sets a cookie the page's requests then carry.
    let r = d.get("/?token=s3cret-token");
    assert_eq!(r.status, 200);
    assert!(
        r.head
            .contains("set-cookie: redline_token=s3cret-token; path=/; httponly; samesite=strict"),
        "{}",
        r.head
    );
    assert_eq!(d.get("/?token=wrong-token").status, 401);
}

/// The line with its `timestamp` replaced.
fn replace_timestamp(line: &str, ts: &str) -> String {
    let mut v: Value = serde_json::from_str(line).unwrap();
    v["timestamp"] = Value::String(ts.to_owned());
    v.to_string() + "\n"
}
