//! The mail delivery worker of `hotline serve`: takes due messages from the outbox, sends them
//! over SMTP (lettre), and records the result. A message is marked sent only after the SMTP
//! server accepted it; a failure waits longer each time and is given up after the configured
//! number of attempts, or at once when the server refuses it for good (5xx). The outbox id is
//! the Message-ID, so a message sent twice (a crash between the server's acceptance and our
//! record of it, the only window) carries the same id both times and receivers can drop the
//! copy. Nothing about a message's content or recipient is logged.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{Message, SmtpTransport, Transport};
use persistence::outbox::Outgoing;
use persistence::{Database, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    None,
    StartTls,
    Tls,
}

impl TlsMode {
    pub fn parse(s: &str) -> Option<TlsMode> {
        match s {
            "none" => Some(TlsMode::None),
            "starttls" => Some(TlsMode::StartTls),
            "tls" => Some(TlsMode::Tls),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub tls: TlsMode,
    pub username: String,
    pub password: String,
    pub from: Mailbox,
    pub poll_interval: Duration,
    pub max_attempts: u32,
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub timeout: Duration,
}

impl std::fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

fn transport(settings: &MailSettings) -> Result<SmtpTransport, String> {
    let tls = |required: bool| -> Result<Tls, String> {
        let params = TlsParameters::new(settings.host.clone())
            .map_err(|e| format!("mail.tls: cannot set up TLS: {e}"))?;
        Ok(if required {
            Tls::Wrapper(params)
        } else {
            Tls::Required(params)
        })
    };
    let mut builder = SmtpTransport::builder_dangerous(settings.host.clone())
        .port(settings.port)
        .timeout(Some(settings.timeout))
        .tls(match settings.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls => tls(false)?,
            TlsMode::Tls => tls(true)?,
        });
    if !settings.username.is_empty() {
        builder = builder.credentials(Credentials::new(
            settings.username.clone(),
            settings.password.clone(),
        ));
    }
    Ok(builder.build())
}

/// What became of one message.
enum Delivery {
    Sent,
    /// Try again later; a short class of the failure.
    Retry(&'static str),
    /// Never: a short class of the failure.
    GiveUp(&'static str),
}

fn deliver(transport: &SmtpTransport, settings: &MailSettings, m: &Outgoing) -> Delivery {
    let Some(to) = &m.to else {
        return Delivery::GiveUp("no_address");
    };
    let Ok(to) = to.parse::<Mailbox>() else {
        return Delivery::GiveUp("bad_address");
    };
    let message = Message::builder()
        .message_id(Some(format!("<{}@hotline>", m.id)))
        .from(settings.from.clone())
        .to(to)
        .subject(m.subject.clone())
        .header(ContentType::TEXT_PLAIN)
        .body(m.body.clone());
    let Ok(message) = message else {
        return Delivery::GiveUp("unbuildable");
    };
    match transport.send(&message) {
        Ok(_) => Delivery::Sent,
        Err(e) if e.is_permanent() => Delivery::GiveUp("refused_permanently"),
        Err(e) if e.is_timeout() => Delivery::Retry("timeout"),
        Err(e) if e.is_transient() => Delivery::Retry("refused_for_now"),
        Err(_) => Delivery::Retry("unreachable"),
    }
}

/// Sends what is due once; returns how many were sent.
pub fn run_once(
    db: &Database,
    settings: &MailSettings,
    transport: &SmtpTransport,
) -> Result<usize, DbError> {
    let mut sent = 0;
    for m in db.due_mail(50)? {
        match deliver(transport, settings, &m) {
            Delivery::Sent => {
                db.mail_sent(&m.id)?;
                sent += 1;
            }
            Delivery::GiveUp(why) => {
                log::warn!("mail {} given up: {why}", m.id);
                db.mail_failed(&m.id, why, None)?;
            }
            Delivery::Retry(why) => {
                let attempt = m.attempts.max(0) as u32 + 1;
                if attempt >= settings.max_attempts {
                    log::warn!("mail {} given up after {attempt} attempts: {why}", m.id);
                    db.mail_failed(&m.id, why, None)?;
                } else {
                    let wait = settings
                        .retry_base
                        .saturating_mul(1u32 << (attempt - 1).min(20))
                        .min(settings.retry_max);
                    let at = persistence::now_micros()
                        .saturating_add(i64::try_from(wait.as_micros()).unwrap_or(i64::MAX));
                    log::info!(
                        "mail {} not sent ({why}); next attempt in {}s",
                        m.id,
                        wait.as_secs()
                    );
                    db.mail_failed(&m.id, why, Some(at))?;
                }
                // The server is likely down for the others too: wait for the next round.
                break;
            }
        }
    }
    Ok(sent)
}

/// The worker thread.
pub struct MailWorker {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl MailWorker {
    pub fn start(db: Database, settings: MailSettings) -> Result<Self, String> {
        let transport = transport(&settings)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                stopped.recv_timeout(settings.poll_interval)
            {
                match run_once(&db, &settings, &transport) {
                    Ok(0) => {}
                    Ok(n) => log::info!("mail: {n} sent"),
                    Err(DbError::Unavailable(_)) => {}
                    Err(e) => log::warn!("mail: {e}"),
                }
            }
        });
        Ok(MailWorker { stop, thread })
    }

    /// Asks the worker to stop and waits for the message in hand.
    pub fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}
