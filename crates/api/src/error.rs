//! The one error shape of the API: `{"error", "message", "fields"?, "request_id"}`.
//!
//! Messages are fixed text written here. Nothing a client submitted is ever echoed: serde's own
//! messages quote the offending value, so they are translated, never passed through.

use std::borrow::Cow;
use std::collections::BTreeMap;

use actix_web::error::{JsonPayloadError, PayloadError};
use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use persistence::DbError;
use serde::Serialize;

use crate::middleware::current_request_id;

#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: Cow<'static, str>,
    fields: Option<BTreeMap<String, String>>,
    /// Seconds for a `Retry-After` header (429).
    retry_after: Option<u64>,
}

#[derive(Serialize)]
struct Body<'a> {
    error: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<&'a BTreeMap<String, String>>,
    request_id: String,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            fields: None,
            retry_after: None,
        }
    }

    /// 429: too many attempts; try again after `wait`.
    pub fn too_many(wait: std::time::Duration) -> Self {
        Self {
            retry_after: Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed attempts; wait before trying again",
            )
        }
    }

    pub fn bad_request(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 401 for every kind of missing, bad, expired or revoked credential: one answer for all.
    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "sign in again: the access token is missing, invalid or its session has ended",
        )
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this method is not allowed on this resource",
        )
    }

    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; quote the request id when reporting it",
        )
    }

    /// 422 with a message per field name (names come from our own types, never from input).
    pub fn invalid_fields(fields: BTreeMap<String, String>) -> Self {
        Self {
            fields: Some(fields),
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "some fields are invalid",
            )
        }
    }

    /// 422 for one field.
    pub fn invalid_field(field: &str, message: &str) -> Self {
        Self::invalid_fields(
            [(field.to_string(), message.to_string())]
                .into_iter()
                .collect(),
        )
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The fields named by a 422, with what is wrong with each (never their values).
    pub fn fields(&self) -> Option<&BTreeMap<String, String>> {
        self.fields.as_ref()
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Translates a JSON body error without quoting any part of the body.
    pub fn from_json(err: &JsonPayloadError, limit: usize) -> Self {
        match err {
            JsonPayloadError::Overflow { .. }
            | JsonPayloadError::OverflowKnownLength { .. }
            | JsonPayloadError::Payload(PayloadError::Overflow) => Self::too_large(limit),
            JsonPayloadError::ContentType => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON with Content-Type: application/json",
            ),
            JsonPayloadError::Deserialize(e) if e.is_data() => {
                let mut fields = BTreeMap::new();
                // "missing field `x`" names a field of our own type: safe to repeat. Every other
                // data error may quote the submitted value or an unknown key the client chose.
                if let Some(name) = e
                    .to_string()
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split_once('`'))
                    .map(|(name, _)| name.to_string())
                {
                    fields.insert(name, "is required".to_string());
                    return Self::invalid_fields(fields);
                }
                Self::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "validation",
                    "the body has an unknown field or a value of the wrong type",
                )
            }
            JsonPayloadError::Deserialize(e) => Self::bad_request(format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            )),
            JsonPayloadError::Serialize(_) => Self::internal(),
            _ => Self::bad_request("the request body could not be read"),
        }
    }

    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the request body is larger than the limit of {limit} bytes"),
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status.as_u16(), self.code)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = Body {
            error: self.code,
            message: &self.message,
            fields: self.fields.as_ref(),
            request_id: current_request_id(),
        };
        let mut response = HttpResponse::build(self.status);
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        response.json(body)
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(reason) => {
                log::warn!("database unavailable: {reason}");
                Self::unavailable("the database is unavailable; try again shortly")
            }
            DbError::Unstorable => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "a value contains a character that cannot be stored",
            ),
            other => {
                log::error!("{other}");
                Self::internal()
            }
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        log::error!("the blocking thread pool is gone (shutting down?)");
        Self::unavailable("the server is shutting down")
    }
}
