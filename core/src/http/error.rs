//! The one error type of the HTTP edge, rendered as RFC 9457 `application/problem+json`.
//!
//! **Invariants**: every error response carries a stable machine `code` (documented in
//! `docs/ERRORS.md`), a human `title` and `detail`, and the request id; database and internal
//! errors are logged with their cause and shown only as `internal`, never with their text.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use forecourt_tenant_config::Diagnostic;

/// An error that ends a request. Each variant maps to one status and one stable code.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("authentication required")]
    Unauthenticated(&'static str),
    #[error("forbidden")]
    Forbidden { action: String, detail: String },
    #[error("not found")]
    NotFound(String),
    #[error("conflict")]
    Conflict { code: &'static str, detail: String },
    #[error("invalid request")]
    Invalid {
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    #[error("invalid bundle")]
    InvalidBundle { diagnostics: Vec<Diagnostic> },
    /// A workflow definition failed validation; nothing was published.
    #[error("invalid workflow definition")]
    InvalidWorkflow { diagnostics: Vec<Diagnostic> },
    /// A page document failed validation; nothing was saved.
    #[error("invalid page document")]
    InvalidPage { diagnostics: Vec<Diagnostic> },
    /// A request an extractor or layer refused (malformed path or query parameter …), with the
    /// status it chose.
    #[error("rejected")]
    Rejected { status: StatusCode, detail: String },
    /// A workflow refused a command (`workflow.forbidden`, `workflow.invalid_input` …); the
    /// code is the engine's stable code.
    #[error("refused by the workflow")]
    WorkflowRefused {
        status: StatusCode,
        code: &'static str,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// An upload (a CSV file or a batch of JSON items) refused as a whole, with every problem
    /// located (CSV line and column, or JSON pointer) and coded; nothing was written.
    #[error("upload refused")]
    Upload {
        status: StatusCode,
        code: &'static str,
        detail: String,
        errors: Vec<LocatedError>,
    },
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: u64 },
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("unavailable")]
    Unavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// One problem of an upload: its own stable code, where (`line` and `column` of a CSV file, or
/// `pointer` into a JSON body) and why.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LocatedError {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pointer: Option<String>,
    pub message: String,
}

/// Where a request was wrong: a JSON pointer into the body or the name of a parameter.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    pub pointer: String,
    pub message: String,
}

impl ApiError {
    pub fn invalid(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Invalid {
            code,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
    pub fn field(code: &'static str, pointer: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        ApiError::Invalid {
            code,
            detail: message.clone(),
            errors: vec![FieldError {
                pointer: pointer.to_string(),
                message,
            }],
        }
    }
    pub fn internal(err: impl std::fmt::Display) -> Self {
        ApiError::Internal(err.to_string())
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Invalid {
                code: "malformed_json" | "body_unreadable",
                ..
            } => StatusCode::BAD_REQUEST,
            ApiError::Invalid {
                code: "unsupported_media_type",
                ..
            } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Invalid {
                code: "method_not_allowed",
                ..
            } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Invalid { .. }
            | ApiError::InvalidBundle { .. }
            | ApiError::InvalidWorkflow { .. }
            | ApiError::InvalidPage { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Rejected { status, .. } => *status,
            ApiError::WorkflowRefused { status, .. } => *status,
            ApiError::Upload { status, .. } => *status,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine code clients switch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(code) => code,
            ApiError::Forbidden { .. } => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict { code, .. } => code,
            ApiError::Invalid { code, .. } => code,
            ApiError::InvalidBundle { .. } => "bundle_invalid",
            ApiError::InvalidWorkflow { .. } => "workflow_invalid",
            ApiError::InvalidPage { .. } => "page_invalid",
            ApiError::Rejected { .. } => "invalid_request",
            ApiError::WorkflowRefused { code, .. } => code,
            ApiError::Upload { code, .. } => code,
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "Authentication required",
            ApiError::Forbidden { .. } => "Not allowed",
            ApiError::NotFound(_) => "Not found",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::Invalid { .. } => "Invalid request",
            ApiError::InvalidBundle { .. } => "The bundle is not valid; nothing was applied",
            ApiError::InvalidWorkflow { .. } => {
                "The workflow definition is not valid; nothing was published"
            }
            ApiError::InvalidPage { .. } => "The page is not valid; nothing was saved",
            ApiError::Rejected { .. } => "Invalid request",
            ApiError::WorkflowRefused { .. } => "The workflow does not allow this now",
            ApiError::Upload { .. } => "The upload was refused; nothing was changed",
            ApiError::TooManyRequests { .. } => "Too many requests",
            ApiError::PayloadTooLarge => "Request body too large",
            ApiError::Unavailable(_) => "Service unavailable",
            ApiError::Internal(_) => "Internal error",
        }
    }

    /// The human explanation the problem's `detail` carries.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Unauthenticated(code) => match *code {
                "invalid_credentials" => "The tenant, email or password is wrong.".into(),
                "token_expired" => {
                    "The token has expired; log in again or create a new API token.".into()
                }
                "token_revoked" => "The token was revoked.".into(),
                "token_invalid" => "The token is not a valid Forecourt token.".into(),
                "buyer_unauthenticated" => "Sign in as a buyer first: POST /api/v1/public/buyer/otp, then POST /api/v1/public/buyer/session (cookie `fc_buyer` or `Authorization: Bearer fcb_…`).".into(),
                "buyer_session_invalid" => "This buyer session is not valid on this storefront; sign in again.".into(),
                "buyer_session_expired" => "This buyer session has expired; sign in again.".into(),
                _ => {
                    "Send a bearer token (Authorization: Bearer …) or log in for a session cookie."
                        .into()
                }
            },
            ApiError::Forbidden { detail, .. } => detail.clone(),
            ApiError::NotFound(what) => format!("{what} does not exist."),
            ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::Invalid { detail, .. } => detail.clone(),
            ApiError::InvalidBundle { diagnostics }
            | ApiError::InvalidWorkflow { diagnostics }
            | ApiError::InvalidPage { diagnostics } => {
                let errors = diagnostics
                    .iter()
                    .filter(|d| d.severity == forecourt_tenant_config::Severity::Error)
                    .count();
                format!("{errors} error(s) found; fix them all and apply again. See `errors`.")
            }
            ApiError::Rejected { detail, .. } => detail.clone(),
            ApiError::WorkflowRefused { detail, .. } => detail.clone(),
            ApiError::Upload { detail, .. } => detail.clone(),
            ApiError::TooManyRequests { retry_after_secs } => {
                format!("Too many attempts; try again in {retry_after_secs} seconds.")
            }
            ApiError::PayloadTooLarge => {
                "The request body exceeds the limit for this endpoint.".into()
            }
            ApiError::Unavailable(what) => what.clone(),
            ApiError::Internal(_) => {
                "Something went wrong on our side; the request id identifies it in our logs.".into()
            }
        }
    }
}

/// The problem document (RFC 9457) every error response carries.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<Value>,
}

/// The problem+json body of `err` (what its response carries).
pub fn problem_json(err: &ApiError) -> String {
    serde_json::to_string(&problem(err)).unwrap_or_default()
}

fn problem(err: &ApiError) -> Problem {
    let errors: Vec<Value> = match err {
        ApiError::Invalid { errors, .. } | ApiError::WorkflowRefused { errors, .. } => errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect(),
        ApiError::InvalidBundle { diagnostics }
        | ApiError::InvalidWorkflow { diagnostics }
        | ApiError::InvalidPage { diagnostics } => diagnostics
            .iter()
            .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
            .collect(),
        ApiError::Upload { errors, .. } => errors
            .iter()
            .map(|e| serde_json::to_value(e).unwrap_or(Value::Null))
            .collect(),
        ApiError::Forbidden { action, .. } => vec![serde_json::json!({ "action": action })],
        _ => Vec::new(),
    };
    let code = err.code();
    Problem {
        type_uri: format!("https://forecourt.dev/problems/{code}"),
        title: err.title().to_string(),
        status: err.status().as_u16(),
        code: code.to_string(),
        detail: err.detail(),
        request_id: crate::http::request_id::current(),
        errors,
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if let ApiError::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let body = serde_json::to_vec(&problem(&self)).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after_secs } = self {
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
        }
        response
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        ApiError::Internal(format!("database: {err}"))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
