//! Issue 22, "any other system's events": a CSV file and an HTTP JSON source (served here)
//! laid beside the cost and tokens of transcripts on known days, checked day by day and
//! against Pearson's r and Spearman's ρ computed here, through `redline stats correlate
//! --json` and the daemon's `/api/correlate`; `/api/stats/daily.csv` against `redline
//! report daily --json`; a bad row named by its line; an unreachable URL named in the
//! error; both routes behind the token when exposed.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use common::{Daemon, Home};
use jiff::civil::Date;
use serde_json::{Value, json};

/// The window asked for: today and the 9 days before it (UTC).
const DAYS: i64 = 10;

fn today() -> Date {
    jiff::tz::TimeZone::UTC
        .to_datetime(jiff::Timestamp::now())
        .date()
}

fn day(back: i64) -> Date {
    today() - jiff::Span::new().days(back)
}

/// A response `back` days ago (at this time of day, so never in the future).
fn response(id: &str, back: i64, output: u64) -> String {
    let ts = (jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * back))
        .strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();
    let mut v: Value = serde_json::from_str(&common::response(id, output)).unwrap();
    v["timestamp"] = json!(ts);
    v["message"]["usage"]["cache_read_input_tokens"] = json!(2000);
    v.to_string() + "\n"
}

/// Transcripts on days 8, 7, 6, 5, 3, 2, 1 and 0 back (none 4 days back): output tokens
/// that rise and fall.
fn history(home: &Home) {
    for (i, (back, out)) in [
        (8, 300),
        (7, 1200),
        (6, 800),
        (5, 4000),
        (3, 2500),
        (2, 600),
        (1, 3100),
        (0, 900),
    ]
    .iter()
    .enumerate()
    {
        home.append("p/s.jsonl", &response(&format!("r{i}"), *back, *out));
    }
}

/// hours.csv: days 7 to 1 back, none on day 3 back (a 0 within its span), and a bad row on
/// line 5.
fn hours_csv() -> (String, BTreeMap<Date, f64>) {
    let hours = [(7, 2.0), (6, 1.5), (5, 7.0), (4, 3.25), (2, 0.5), (1, 6.0)];
    let mut text = String::from("Date,Project,Hours\n");
    for (i, (back, h)) in hours.iter().enumerate() {
        if i == 3 {
            text += &format!("{},\"redline, the clock\",many\n", day(*back));
        }
        text += &format!("{},\"redline, the clock\",{h}\n", day(*back));
    }
    let mut want: BTreeMap<Date, f64> = hours.iter().map(|(b, h)| (day(*b), *h)).collect();
    want.insert(day(3), 0.0);
    (text, want)
}

/// The deploys the HTTP source lists: a count per day, days 9 to 0 back (some twice).
fn deploys() -> (String, BTreeMap<Date, f64>) {
    let backs = [9, 8, 8, 7, 6, 6, 6, 5, 4, 2, 2, 1, 0, 0];
    let items: Vec<Value> = backs
        .iter()
        .enumerate()
        .map(|(i, b)| json!({"id": i, "at": format!("{}T09:30:00Z", day(*b))}))
        .collect();
    let mut want: BTreeMap<Date, f64> = BTreeMap::new();
    for b in backs {
        *want.entry(day(b)).or_default() += 1.0;
    }
    want.insert(day(3), 0.0);
    (
        json!({"service": "web", "deploys": items}).to_string(),
        want,
    )
}

/// Serves `body` as JSON to every request, on a port of its own; the URL.
fn serve_json(body: String) -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut s) = conn else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            while r.read_line(&mut line).is_ok_and(|n| n > 2) {
                line.clear();
            }
            let _ = write!(
                s,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    format!("http://{addr}/api/deploys")
}

/// A URL nothing answers at.
fn dead_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}/gone")
}

fn config(home: &Home, text: &str) {
    let dir = home.dir.join("config/redline");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.toml"), text).unwrap();
}

/// The test's own Pearson: n·Σxy − Σx·Σy over the root of the two like terms.
fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (sx, sy): (f64, f64) = (x.iter().sum(), y.iter().sum());
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| a * b).sum();
    let sxx: f64 = x.iter().map(|a| a * a).sum();
    let syy: f64 = y.iter().map(|b| b * b).sum();
    (n * sxy - sx * sy) / ((n * sxx - sx * sx).sqrt() * (n * syy - sy * sy).sqrt())
}

/// Average ranks by counting: 1 + how many are smaller + (how many tie − 1) / 2.
fn ranks(v: &[f64]) -> Vec<f64> {
    v.iter()
        .map(|a| {
            let less = v.iter().filter(|b| *b < a).count() as f64;
            let same = v.iter().filter(|b| *b == a).count() as f64;
            1.0 + less + (same - 1.0) / 2.0
        })
        .collect()
}

fn spearman(x: &[f64], y: &[f64]) -> f64 {
    pearson(&ranks(x), &ranks(y))
}

/// `redline report daily --json`: each day's (cost, tokens).
fn report_days(home: &Home) -> (Value, BTreeMap<Date, (f64, u64)>) {
    let out = common::succeed(home.redline().args(["report", "daily", "--json"]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let days = v["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["date"].as_str().unwrap().parse().unwrap(),
                (
                    d["totalCost"].as_f64().unwrap(),
                    d["totalTokens"].as_u64().unwrap(),
                ),
            )
        })
        .collect();
    (v, days)
}

/// Checks a document's usage and one source against the expected figures.
fn check(doc: &Value, name: &str, want: &BTreeMap<Date, f64>, usage: &BTreeMap<Date, (f64, u64)>) {
    let dates: Vec<Date> = (0..DAYS).rev().map(day).collect();
    assert_eq!(doc["days"], DAYS, "{doc}");
    assert_eq!(doc["since"], dates[0].to_string());
    assert_eq!(doc["until"], today().to_string());
    let daily = doc["usage"]["daily"].as_array().unwrap();
    for (d, row) in dates.iter().zip(daily) {
        assert_eq!(row["date"], d.to_string());
        let (cost, tokens) = usage.get(d).copied().unwrap_or((0.0, 0));
        assert!(
            (row["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-9,
            "{d}: {row}"
        );
        assert_eq!(row["tokens"].as_u64().unwrap(), tokens, "{d}");
    }
    let src = doc["sources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no source {name}: {doc}"));
    assert_eq!(src["error"], Value::Null, "{src}");
    let got: Vec<(String, Value)> = src["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["date"].as_str().unwrap().to_owned(), d["value"].clone()))
        .collect();
    let expected: Vec<(String, Value)> = dates
        .iter()
        .map(|d| (d.to_string(), want.get(d).map_or(Value::Null, |v| json!(v))))
        .collect();
    assert_eq!(got, expected, "{name}");
    let (mut u, mut t, mut s) = (Vec::new(), Vec::new(), Vec::new());
    for d in &dates {
        if let Some(v) = want.get(d) {
            let (cost, tokens) = usage.get(d).copied().unwrap_or((0.0, 0));
            u.push(cost);
            t.push(tokens as f64);
            s.push(*v);
        }
    }
    for (c, x) in src["correlations"].as_array().unwrap().iter().zip([&u, &t]) {
        assert_eq!(c["n"].as_u64().unwrap() as usize, s.len(), "{c}");
        let r = c["pearson"].as_f64().unwrap();
        let rho = c["spearman"].as_f64().unwrap();
        assert!(
            (r - pearson(x, &s)).abs() < 1e-9,
            "{name} {}: r {r} vs {}",
            c["against"],
            pearson(x, &s)
        );
        assert!(
            (rho - spearman(x, &s)).abs() < 1e-9,
            "{name} {}: ρ {rho} vs {}",
            c["against"],
            spearman(x, &s)
        );
        let reading = c["reading"].as_str().unwrap();
        assert!(reading.contains(&format!("r = {r:.2}")), "{reading}");
        assert!(reading.contains(&format!("{} days", s.len())), "{reading}");
    }
    assert_eq!(src["correlations"].as_array().unwrap().len(), 2);
}

#[test]
fn a_csv_file_and_an_http_json_source_in_the_correlation() {
    let home = Home::new();
    history(&home);
    let (csv, hours) = hours_csv();
    let (body, deploys) = deploys();
    let url = serve_json(body);
    std::fs::create_dir_all(home.dir.join("config/redline")).unwrap();
    std::fs::write(home.dir.join("config/redline/hours.csv"), &csv).unwrap();
    config(
        &home,
        &format!(
            "[[correlate]]\nname = \"hours\"\npath = \"hours.csv\"\ntime = \"Date\"\nvalue = \"Hours\"\n\n\
             [[correlate]]\nname = \"deploys\"\nurl = \"{url}\"\ntime = \"at\"\nitems = \"/deploys\"\naggregate = \"count\"\n"
        ),
    );
    let (_, usage) = report_days(&home);
    assert_eq!(
        usage.len(),
        8,
        "days 9 and 4 back have no responses: {usage:?}"
    );

    // The terminal.
    let out = home
        .redline()
        .args(["stats", "correlate", "--days", &DAYS.to_string(), "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    check(&doc, "hours", &hours, &usage);
    check(&doc, "deploys", &deploys, &usage);
    // The bad row, by file and line, on stderr and in the document.
    let csv_path = home
        .dir
        .join("config/redline/hours.csv")
        .display()
        .to_string();
    let named = format!("{csv_path}:5: the value \"Hours\" \"many\" is not a number");
    assert!(
        stderr.contains(&format!("correlate source \"hours\": {named}")),
        "{stderr}"
    );
    let hours_src = &doc["sources"][0];
    assert_eq!(hours_src["bad_rows"], 1);
    assert_eq!(
        hours_src["bad_examples"][0]["place"],
        format!("{csv_path}:5")
    );
    assert_eq!(hours_src["format"], "csv");
    assert_eq!(doc["sources"][1]["format"], "json", "from the Content-Type");
    assert_eq!(doc["usage"]["hourly"].as_array().unwrap().len(), 24);

    // The tables fit 80 columns and say the readings.
    let out = home
        .redline()
        .args(["stats", "correlate", "--days", &DAYS.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "{line}");
    }
    assert!(
        text.contains("Against cost: ") && text.contains("Against tokens: "),
        "{text}"
    );
    assert!(text.contains(&day(3).to_string()));

    // The daemon: the same figures from its own history.
    let d = Daemon::start(&home, &[]);
    let r = d.get(&format!("/api/correlate?days={DAYS}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.head.contains("content-type: application/json"));
    let api: Value = serde_json::from_str(&r.body).unwrap();
    check(&api, "hours", &hours, &usage);
    check(&api, "deploys", &deploys, &usage);
    assert_eq!(
        api["sources"][0]["bad_examples"],
        doc["sources"][0]["bad_examples"]
    );
    assert_eq!(d.get("/api/correlate?days=0").status, 400);
    // The file changed: read again.
    std::fs::write(
        home.dir.join("config/redline/hours.csv"),
        format!("{csv}{},x,1\n", today()),
    )
    .unwrap();
    let api: Value = serde_json::from_str(&d.get("/api/correlate?days=10").body).unwrap();
    assert_eq!(
        api["sources"][0]["daily"][9]["value"], 1.0,
        "{}",
        api["sources"][0]
    );
    let status: Value = serde_json::from_str(&d.get("/api/status").body).unwrap();
    assert_eq!(status["correlate"].as_array().unwrap().len(), 2, "{status}");
}

#[test]
fn daily_csv_matches_the_daily_report() {
    let home = Home::new();
    history(&home);
    // A second model on one day.
    home.append(
        "p/t.jsonl",
        &response("opus", 2, 700).replace("claude-sonnet-4-5", "claude-opus-4-6"),
    );
    let (report, _) = report_days(&home);
    let d = Daemon::start(&home, &[]);
    let r = d.get("/api/stats/daily.csv?days=10");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.head.contains("content-type: text/csv"), "{}", r.head);
    let mut lines = r.body.lines();
    assert_eq!(
        lines.next(),
        Some(
            "date,model,input_tokens,output_tokens,cache_creation_tokens,cache_read_tokens,total_tokens,cost_usd"
        )
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let mut want = Vec::new();
    for day in report["daily"].as_array().unwrap() {
        let mut models: Vec<&Value> = day["modelBreakdowns"].as_array().unwrap().iter().collect();
        models.sort_by_key(|m| m["modelName"].as_str().unwrap().to_owned());
        for m in models {
            want.push((day["date"].as_str().unwrap().to_owned(), m.clone()));
        }
    }
    assert_eq!(rows.len(), want.len(), "{}", r.body);
    assert_eq!(rows.len(), 9, "eight days, one with two models");
    for (row, (date, m)) in rows.iter().zip(&want) {
        assert_eq!(row[0], date);
        assert_eq!(row[1], m["modelName"].as_str().unwrap());
        let n = |i: usize| row[i].parse::<u64>().unwrap();
        assert_eq!(n(2), m["inputTokens"].as_u64().unwrap());
        assert_eq!(n(3), m["outputTokens"].as_u64().unwrap());
        assert_eq!(n(4), m["cacheCreationTokens"].as_u64().unwrap());
        assert_eq!(n(5), m["cacheReadTokens"].as_u64().unwrap());
        assert_eq!(n(6), n(2) + n(3) + n(4) + n(5));
        let cost: f64 = row[7].parse().unwrap();
        assert!(
            (cost - m["cost"].as_f64().unwrap()).abs() < 1e-6,
            "{row:?} {m}"
        );
    }
    // `daily.csv` is its own route; `daily` is still the stat.
    let stat = d.get("/api/stats/daily?days=10");
    assert_eq!(stat.status, 200);
    assert!(stat.head.contains("application/json"));
    assert!(d.get("/api/stats/nope.csv").status == 404);
}

#[test]
fn an_unreachable_url_is_named_and_a_good_source_still_reads() {
    let home = Home::new();
    history(&home);
    let dead = dead_url();
    std::fs::create_dir_all(home.dir.join("config/redline")).unwrap();
    let (csv, _) = hours_csv();
    std::fs::write(home.dir.join("config/redline/hours.csv"), csv).unwrap();
    config(
        &home,
        &format!(
            "[[correlate]]\nname = \"down\"\nurl = \"{dead}\"\ntime = \"at\"\n\n\
             [[correlate]]\nname = \"hours\"\npath = \"hours.csv\"\ntime = \"Date\"\nvalue = \"Hours\"\n"
        ),
    );
    let out = home
        .redline()
        .args(["stats", "correlate", "--json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "correlate source \"down\": cannot fetch {dead}: curl: (7)"
        )),
        "{stderr}"
    );
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let down = &doc["sources"][0];
    assert!(down["error"].as_str().unwrap().contains(&dead), "{down}");
    assert_eq!(down["rows"], Value::Null);
    assert_eq!(down["correlations"], json!([]));
    assert_eq!(doc["sources"][1]["error"], Value::Null);
    // `redline doctor` says what each source sees.
    let out = home.redline().arg("doctor").output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains(&format!(
            "correlate \"down\" (url {dead})\n  cannot read: cannot fetch {dead}: curl: (7)"
        )),
        "{said}"
    );
    assert!(
        said.contains("  6 rows (csv, time \"Date\"), 1 bad, "),
        "{said}"
    );
    assert!(
        said.contains("  bad row: ") && said.contains("hours.csv:5: "),
        "{said}"
    );
    // The daemon says it in /api/correlate and in the log.
    let d = Daemon::start(&home, &[]);
    let api: Value = serde_json::from_str(&d.get("/api/correlate").body).unwrap();
    assert!(
        api["sources"][0]["error"]
            .as_str()
            .unwrap()
            .contains("cannot fetch"),
        "{api}"
    );
    d.until("the log to name the source", |d| {
        d.stderr
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("correlate source \"down\": cannot fetch"))
    });
}

#[test]
fn a_bad_entry_names_its_line_and_key() {
    let home = Home::new();
    config(
        &home,
        "[[correlate]]\nname = \"x\"\npath = \"x.csv\"\ntime = \"d\"\naggregate = \"median\"\n",
    );
    let out = home
        .redline()
        .args(["stats", "correlate"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "config.toml:5: correlate[1].aggregate: \"median\" is not sum, count or mean"
        ),
        "{stderr}"
    );
    // No source at all: a word on how to add one.
    config(&home, "");
    let out = home
        .redline()
        .args(["stats", "correlate"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("[[correlate]]"));
}

#[test]
fn both_routes_need_the_token_beyond_loopback() {
    let home = Home::new();
    let d = Daemon::start(&home, &["--listen", "0.0.0.0:0", "--token", "s3cret-token"]);
    for path in ["/api/correlate", "/api/stats/daily.csv"] {
        assert_eq!(d.get(path).status, 401, "{path}");
        let r = d.request(&format!(
            "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer s3cret-token\r\nConnection: close\r\n\r\n"
        ));
        assert_eq!(r.status, 200, "{path}: {}", r.body);
    }
}

#[test]
fn a_source_added_while_serving_is_read() {
    let home = Home::new();
    history(&home);
    config(&home, "");
    let d = Daemon::start(&home, &[]);
    let none: Value = serde_json::from_str(&d.get("/api/correlate").body).unwrap();
    assert_eq!(none["sources"], json!([]));
    let (csv, _) = hours_csv();
    std::fs::write(home.dir.join("config/redline/hours.csv"), csv).unwrap();
    config(
        &home,
        "[[correlate]]\nname = \"hours\"\npath = \"hours.csv\"\ntime = \"Date\"\nvalue = \"Hours\"\n",
    );
    d.until("the new source in /api/correlate", |d| {
        let v: Value = serde_json::from_str(&d.get("/api/correlate").body).unwrap();
        v["sources"][0]["rows"] == 6
    });
}
