//! Extractors shared by every area: JSON bodies with located errors, the authenticated
//! [`Actor`], and [`Authz`], which ties a handler to its route's declared action.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::auth::Actor;
use crate::authz::{Resource, TenantPolicies};
use crate::http::error::{ApiError, FieldError};
use crate::http::routes::{self, Access};
use crate::state::AppState;

/// A JSON body. Malformed JSON and wrong shapes are reported with line, column and pointer.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let v = v
                    .split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::invalid(
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// A JSON body like [`ApiJson`], with the bytes as sent (for idempotency fingerprints).
pub struct JsonBody<T>(pub T, pub Bytes);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let media = media_type(req.headers());
        if !(media == "application/json"
            || (media.starts_with("application/") && media.ends_with("+json")))
        {
            return Err(ApiError::invalid(
                "unsupported_media_type",
                "Send the body as JSON with `Content-Type: application/json`.",
            ));
        }
        let bytes = body_bytes(req, state).await?;
        let value = parse_json(&bytes)?;
        Ok(JsonBody(value, bytes))
    }
}

/// The request's media type, lower-cased, without parameters (`application/yaml`).
pub fn media_type(headers: &axum::http::HeaderMap) -> String {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default()
}

/// Reads the whole body, mapping the size limit to 413.
pub async fn body_bytes(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::invalid("body_unreadable", "The request body could not be read.")
        }
    })
}

/// Parses JSON, locating any error (line, column, JSON pointer of the offending value).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let located = |pointer: String, inner: &serde_json::Error| {
        let (code, what) = if inner.is_syntax() || inner.is_eof() {
            ("malformed_json", "The body is not valid JSON")
        } else {
            ("invalid_body", "The body does not have the expected shape")
        };
        let message = format!("{what}: {inner}");
        ApiError::Invalid {
            code,
            detail: format!("{message}."),
            errors: vec![FieldError { pointer, message }],
        }
    };
    let value: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|err| located(pointer_of(err.path()), err.inner()))?;
    de.end().map_err(|err| located(String::new(), &err))?;
    Ok(value)
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        out.push('/');
        match seg {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                out.push_str(&key.replace('~', "~0").replace('/', "~1"))
            }
            Segment::Unknown => {
                out.pop();
            }
        }
    }
    out
}

/// An authenticated actor plus the action its route declares; handlers call [`Authz::check`]
/// with the resource they are about to touch.
pub struct Authz {
    pub actor: Actor,
    pub action: &'static str,
}

impl FromRequestParts<AppState> for Authz {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let path = parts
            .extensions
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default();
        let action = match routes::access(parts.method.as_str(), &path) {
            Some(Access::Action(action)) => action,
            _ => {
                return Err(ApiError::Internal(format!(
                    "route {} {path} declares no action",
                    parts.method
                )))
            }
        };
        let actor = Actor::from_request_parts(parts, state).await?;
        Ok(Authz { actor, action })
    }
}

impl Authz {
    pub fn policies(&self) -> &TenantPolicies {
        &self.actor.tenant.policies
    }

    /// True when the actor may perform the route's action on `resource`.
    pub fn allows(&self, resource: &Resource) -> bool {
        self.policies()
            .allows(&self.actor.principal, self.action, resource)
    }

    /// Fails with 403 unless the actor may perform the route's action on `resource`.
    pub fn check(&self, resource: &Resource) -> Result<(), ApiError> {
        let decided = self
            .policies()
            .decide(&self.actor.principal, self.action, resource);
        if decided.allowed {
            return Ok(());
        }
        let why = match decided.pre_denial {
            Some(crate::authz::PreDenial::TokenScope) => {
                "this API token's scopes do not include it".to_string()
            }
            _ => format!("none of your roles grants it on {}", resource.describe()),
        };
        tracing::info!(action = self.action, resource = %resource.describe(), "denied");
        Err(ApiError::Forbidden {
            action: self.action.to_string(),
            detail: format!(
                "You may not {} here: {why}. A tenant admin can see why with GET /api/v1/authz/explain.",
                self.action
            ),
        })
    }
}
