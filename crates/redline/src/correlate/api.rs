//! The daemon's two routes of the correlation, both behind the token when the daemon is
//! exposed: `GET /api/correlate?days=N` (the JSON of `redline stats correlate --json`) and
//! `GET /api/stats/daily.csv?days=N` (the daily cost by model, for a budget app to
//! import). Both take the daily figures from the hub's history, as `/api/stats/*` does.

use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use redline_engine::correlate::Usage;
use redline_engine::report::daily_csv;
use redline_engine::stats::ALL_DAYS;
use serde::Deserialize;
use serde_json::{Value, json};

use super::document::{analyse, document};
use crate::http::{AppState, json};
use crate::hub::{self, Input, Unanswered};

/// `?days=N` (1 to 366, default 30) or `?days=all`.
#[derive(Debug, Deserialize)]
pub struct DaysQuery {
    days: Option<String>,
}

impl DaysQuery {
    /// The days asked for as the hub takes them, and as the answer's `range` says them.
    #[allow(clippy::result_large_err)]
    fn days(&self) -> Result<(u32, Value), Response> {
        match crate::web::days(self.days.as_deref(), 366) {
            Some(ALL_DAYS) => Ok((ALL_DAYS, json!("all"))),
            Some(d) => Ok((d, json!(d))),
            None => {
                Err((StatusCode::BAD_REQUEST, "days must be 1 to 366, or all\n").into_response())
            }
        }
    }
}

/// The hub's daily usage over `days`.
#[allow(clippy::result_large_err)]
async fn usage(s: &AppState, days: u32) -> Result<Usage, Response> {
    hub::ask(&s.inputs, Duration::from_secs(10), |tx| {
        Input::Usage(days, tx)
    })
    .await
    .map_err(|e| match e {
        Unanswered::Closed => (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response(),
        _ => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the history took too long\n",
        )
            .into_response(),
    })
}

/// `GET /api/correlate?days=30`.
pub async fn correlate(State(s): State<AppState>, Query(q): Query<DaysQuery>) -> Response {
    let (days, range) = match q.days() {
        Ok(d) => d,
        Err(r) => return r,
    };
    let usage = match usage(&s, days).await {
        Ok(u) => u,
        Err(r) => return r,
    };
    let cfg = s.page.borrow().cfg.clone();
    let keeper = s.correlate.clone();
    let sources = cfg.correlate.clone();
    let Ok(loaded) = tokio::task::spawn_blocking(move || keeper.current(&sources)).await else {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    };
    let tz = &cfg.settings.tz;
    json(document(&usage, &analyse(&usage, &loaded, tz), tz, range).to_string())
}

/// `GET /api/stats/daily.csv?days=30`.
pub async fn daily_csv_route(State(s): State<AppState>, Query(q): Query<DaysQuery>) -> Response {
    let (days, _) = match q.days() {
        Ok(d) => d,
        Err(r) => return r,
    };
    match usage(&s, days).await {
        Ok(u) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CACHE_CONTROL, "no-store"),
                (
                    header::CONTENT_DISPOSITION,
                    "inline; filename=\"redline-daily.csv\"",
                ),
            ],
            daily_csv(&u.report),
        )
            .into_response(),
        Err(r) => r,
    }
}
