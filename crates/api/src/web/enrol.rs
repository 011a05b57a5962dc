//! Setting up the second factor: the authenticator app's QR code (rendered here, as SVG: the
//! secret never leaves this server for a QR service), the secret as text for typing in, the
//! first code to confirm, then the recovery codes, shown once.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use qrcode::render::svg;
use qrcode::QrCode;

use super::form::Fields;
use super::{render, Frame, Page, PageError};
use crate::auth::Enrolling;
use crate::ApiError;

#[derive(Template)]
#[template(path = "enrol.html")]
struct EnrolPage {
    f: Frame,
    /// The QR code of the otpauth URI, as an SVG element.
    qr: String,
    /// The secret in base32 groups, for typing into an app by hand.
    secret: String,
    form: Fields,
}

/// The recovery codes, shown once (after the second factor is set up, or the first passkey).
#[derive(Template)]
#[template(path = "enrolled.html")]
pub(super) struct EnrolledPage {
    pub f: Frame,
    pub codes: Vec<String>,
}

/// An SVG element of `text` as a QR code (error correction M), without the XML declaration,
/// to sit inside the page.
fn qr_svg(text: &str) -> Result<String, ApiError> {
    let code = QrCode::new(text.as_bytes()).map_err(|_| ApiError::internal())?;
    let image = code
        .render::<svg::Color>()
        .min_dimensions(220, 220)
        .quiet_zone(true)
        .build();
    let start = image.find("<svg").ok_or_else(ApiError::internal)?;
    Ok(image[start..].to_string())
}

/// The `secret` parameter of an otpauth URI, in groups of four.
fn secret_of(uri: &str) -> String {
    let secret = uri
        .split_once("secret=")
        .map(|(_, rest)| rest.split('&').next().unwrap_or(""))
        .unwrap_or("");
    secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `GET /enrol`: a new secret for this user (until confirmed, it replaces any earlier one).
pub(crate) async fn form(page: Page<Enrolling>) -> Result<HttpResponse, PageError> {
    let (f, (qr, secret), _) = page
        .run(|vault, s, Enrolling(actor)| {
            let enrolment = vault.totp_enrol(&s.db, actor, &s.auth.totp_issuer)?;
            let uri = enrolment.otpauth_uri.expose();
            Ok((qr_svg(uri)?, secret_of(uri)))
        })
        .await?;
    Ok(render(
        StatusCode::OK,
        &EnrolPage {
            f,
            qr,
            secret,
            form: Fields::default(),
        },
    ))
}

/// `POST /enrol`: the first code from the app confirms it; the recovery codes are shown once
/// (the page is never cached). A wrong code keeps the same secret: the form comes back with
/// its QR code and text again.
pub(crate) async fn confirm(
    page: Page<Enrolling>,
    body: web::Bytes,
) -> Result<HttpResponse, PageError> {
    let lang = page.lang();
    let (token, form) = Fields::parse(&body, &["code"]).map_err(|e| PageError::new(e, lang))?;
    let (f, outcome, _) = page
        .submit(&token, move |vault, s, Enrolling(actor)| {
            let code = form.get("code").split_whitespace().collect::<String>();
            match vault.totp_confirm(&s.db, actor, &code) {
                Ok(codes) => Ok(Ok(codes
                    .into_iter()
                    .map(|c| c.into_inner())
                    .collect::<Vec<_>>())),
                Err(e) => {
                    let mut form = form;
                    form.refused(ApiError::from(e))?;
                    form.clear(&["code"]);
                    form.errors
                        .insert("code".into(), "not the current code".into());
                    // The same secret again, so the code can be scanned or typed once more.
                    let pending = vault.totp_pending(&s.db, actor, &s.auth.totp_issuer)?;
                    let shown = match pending {
                        Some(p) => {
                            let uri = p.otpauth_uri.expose();
                            (qr_svg(uri)?, secret_of(uri))
                        }
                        None => (String::new(), String::new()),
                    };
                    Ok(Err((form, shown)))
                }
            }
        })
        .await?;
    Ok(match outcome {
        Ok(codes) => render(StatusCode::OK, &EnrolledPage { f, codes }),
        Err((form, (qr, secret))) => render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EnrolPage {
                f,
                qr,
                secret,
                form,
            },
        ),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_qr_code_is_an_svg_element_and_the_secret_is_grouped() {
        let svg =
            super::qr_svg("otpauth://totp/hotline:oksana?secret=JBSWY3DPEHPK3PXP&issuer=hotline")
                .unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
        assert!(!svg.contains("<?xml") && !svg.contains("style="));
        assert_eq!(
            super::secret_of("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&issuer=h"),
            "JBSW Y3DP EHPK 3PXP"
        );
    }
}
