//! Request ids: taken from a well-formed `X-Request-Id` header or made fresh (UUIDv7), kept in a
//! task-local for error bodies and logs, and echoed in the response.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

fn acceptable(id: &str) -> bool {
    (8..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Middleware: assigns the request id, opens the request span, records metrics.
pub async fn middleware(request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().clone();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = %route, tenant = tracing::field::Empty, status = tracing::field::Empty);
    let started = std::time::Instant::now();
    let header = HeaderValue::from_str(&id).ok();
    let response = REQUEST_ID
        .scope(
            id.clone(),
            tracing::Instrument::instrument(next.run(request), span.clone()),
        )
        .await;
    let mut response = REQUEST_ID.scope(id, ensure_problem(response)).await;
    let status = response.status().as_u16();
    span.record("status", status);
    crate::http::metrics::record(method.as_str(), &route, status, started.elapsed());
    if let Some(h) = header {
        response.headers_mut().insert("x-request-id", h);
    }
    response
}

/// Every error response is problem+json or a page: an error that some layer or extractor
/// rejection produced as plain text (a malformed path or query parameter, say) is rewrapped
/// here. HTML is left alone: the storefront answers its visitors with pages on purpose (a form
/// with mistakes, an unknown page or order).
async fn ensure_problem(response: Response) -> Response {
    use crate::http::error::ApiError;
    use axum::response::IntoResponse;
    let status = response.status();
    let kept = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .is_some_and(|v| {
            let v = v.as_bytes();
            v.starts_with(b"application/problem+json") || v.starts_with(b"text/html")
        });
    if !(status.is_client_error() || status.is_server_error()) || kept {
        return response;
    }
    let body = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&body).trim().to_string();
    let err = match status.as_u16() {
        404 => ApiError::NotFound("This path".into()),
        413 => ApiError::PayloadTooLarge,
        _ if status.is_server_error() => ApiError::Internal(text),
        _ => ApiError::Rejected {
            status,
            detail: if text.is_empty() {
                "The request is not valid.".into()
            } else {
                text
            },
        },
    };
    err.into_response()
}
