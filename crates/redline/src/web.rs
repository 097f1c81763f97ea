//! The web page and what only it reads: the embedded assets (no build step, no CDN), the
//! scales it draws (`/api/config`) and the deep stats (`/api/stats/*`). All behind the
//! token when the daemon is bound beyond loopback.

use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use redline_engine::stats::Stat;
use serde::Deserialize;

use crate::http::{AppState, json};
use crate::hub::{self, Input, Unanswered};

const INDEX: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE: &str = include_str!("../assets/style.css");

/// `GET /`.
pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX)
}

/// `GET /assets/{file}`.
pub async fn assets(Path(file): Path<String>) -> Response {
    match file.as_str() {
        "app.js" => asset("text/javascript; charset=utf-8", APP_JS),
        "style.css" => asset("text/css; charset=utf-8", STYLE),
        _ => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /api/config`: what the page draws its dials against.
pub async fn config(State(s): State<AppState>) -> Response {
    json(s.page_config.to_string())
}

/// Query of a stat.
#[derive(Debug, Deserialize)]
pub struct StatQuery {
    days: Option<u32>,
    limit: Option<usize>,
}

/// `GET /api/stats`: the stats there are.
pub async fn stats_index() -> Response {
    json(serde_json::json!({ "stats": Stat::NAMES }).to_string())
}

/// `GET /api/stats/{name}?days=30&limit=10`.
pub async fn stat(
    State(s): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<StatQuery>,
) -> Response {
    let Some(which) = Stat::from_name(&name) else {
        return (
            StatusCode::NOT_FOUND,
            format!("no stat {name:?}; there are {}\n", Stat::NAMES.join(", ")),
        )
            .into_response();
    };
    let days = q.days.unwrap_or(30);
    if !(1..=366).contains(&days) {
        return (StatusCode::BAD_REQUEST, "days must be 1 to 366\n").into_response();
    }
    let limit = q.limit.unwrap_or(10).clamp(1, 1000);
    let ask = |tx| Input::Stat(which, days, limit, tx);
    match hub::ask(&s.inputs, Duration::from_secs(10), ask).await {
        Ok(v) => json(v.to_string()),
        Err(Unanswered::Closed) => {
            (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the stats took too long\n").into_response(),
    }
}
