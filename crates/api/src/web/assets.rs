//! The pages' two vendored files, compiled into the binary: `static/app.js` and
//! `static/app.css`. No build step; the script runs only by its hash (see the CSP).

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

pub(crate) const SCRIPT_PATH: &str = "/static/app.js";
pub(crate) const STYLE_PATH: &str = "/static/app.css";

const SCRIPT: &str = include_str!("../../static/app.js");
const STYLE: &str = include_str!("../../static/app.css");

/// SHA-256 of `static/app.js`, base64: its `integrity` and its entry in the CSP. The
/// integration tests recompute it from the file the server serves and fail when the two differ
/// (then put the value they print here).
pub(crate) const SCRIPT_SHA256: &str = "XP3/3QphyZWTN20AMmfsXYp2YUWy8csPdWrzlNaSX48=";

/// `GET /static/{file}`: one of the two files, or 404.
pub(crate) async fn serve(file: web::Path<String>) -> HttpResponse {
    let (body, kind) = match file.as_str() {
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        "app.css" => (STYLE, "text/css; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    let mut res = HttpResponse::Ok().content_type(kind).body(body);
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    res
}
