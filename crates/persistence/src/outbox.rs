//! The mail outbox: messages are written in the transaction of what they report (so a message
//! exists exactly when its event happened), rendered from the fixed templates in the
//! recipient's language, and delivered later by the worker in `hotline serve`. The outbox id
//! is the message's idempotency key (its Message-ID).

use diesel::prelude::*;
use domain::mail::Template;

use crate::clock::now_micros;
use crate::error::new_id;
use crate::schema::{mail_outbox, users};
use crate::{Database, DbConnection, DbError};

/// Who a message goes to.
enum Recipient<'a> {
    /// A staff member: the address is looked up when the message is sent, so a corrected
    /// address still gets it.
    User(&'a str),
    /// A provider's notification address.
    Address(&'a str),
}

fn queue(
    conn: &mut DbConnection,
    to: Recipient<'_>,
    language: &str,
    template: &Template,
    base_url: &str,
) -> Result<(), DbError> {
    let (subject, body) = template.render(language, base_url);
    let (user, address) = match to {
        Recipient::User(u) => (Some(u), None),
        Recipient::Address(a) => (None, Some(a)),
    };
    diesel::insert_into(mail_outbox::table)
        .values((
            mail_outbox::id.eq(new_id()?),
            mail_outbox::recipient_user_id.eq(user),
            mail_outbox::recipient_address.eq(address),
            mail_outbox::subject.eq(subject),
            mail_outbox::body.eq(body),
            mail_outbox::kind.eq(template.kind()),
            mail_outbox::created_at.eq(now_micros()),
            mail_outbox::attempts.eq(0),
        ))
        .execute(conn)?;
    Ok(())
}

/// Queues a message to a staff member, in their language.
pub fn queue_to_user(
    conn: &mut DbConnection,
    user_id: &str,
    template: &Template,
    base_url: &str,
) -> Result<(), DbError> {
    let language: Option<String> = users::table
        .find(user_id)
        .select(users::language)
        .first(conn)
        .optional()?;
    let language = language.unwrap_or_else(|| "uk".into());
    queue(
        conn,
        Recipient::User(user_id),
        &language,
        template,
        base_url,
    )
}

/// Queues a message to an address (a provider's notification address), in `language`.
pub fn queue_to_address(
    conn: &mut DbConnection,
    address: &str,
    language: &str,
    template: &Template,
    base_url: &str,
) -> Result<(), DbError> {
    queue(
        conn,
        Recipient::Address(address),
        language,
        template,
        base_url,
    )
}

/// A message due to be sent. `to` is `None` when the recipient has no address (the message is
/// then marked failed, so it is not tried forever).
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub to: Option<String>,
    pub subject: String,
    pub body: String,
    pub attempts: i32,
}

/// Counts for `hotline outbox status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxStatus {
    pub pending: i64,
    pub sent: i64,
    pub failed: i64,
}

impl Database {
    /// Messages due now (not sent, not failed, their retry time reached), oldest first.
    pub fn due_mail(&self, limit: i64) -> Result<Vec<Outgoing>, DbError> {
        let now = now_micros();
        self.with_conn(|conn| {
            type Row = (String, Option<String>, Option<String>, String, String, i32);
            let rows: Vec<Row> = mail_outbox::table
                .left_join(users::table.on(users::id.nullable().eq(mail_outbox::recipient_user_id)))
                .filter(mail_outbox::sent_at.is_null())
                .filter(mail_outbox::failed_at.is_null())
                .filter(
                    mail_outbox::next_attempt_at
                        .is_null()
                        .or(mail_outbox::next_attempt_at.le(now)),
                )
                .select((
                    mail_outbox::id,
                    mail_outbox::recipient_address,
                    users::email.nullable(),
                    mail_outbox::subject,
                    mail_outbox::body,
                    mail_outbox::attempts,
                ))
                .order_by((mail_outbox::created_at, mail_outbox::id))
                .limit(limit)
                .load(conn)?;
            Ok(rows
                .into_iter()
                .map(|(id, address, email, subject, body, attempts)| Outgoing {
                    id,
                    to: address.or(email),
                    subject,
                    body,
                    attempts,
                })
                .collect())
        })
    }

    /// The SMTP server took the message.
    pub fn mail_sent(&self, id: &str) -> Result<(), DbError> {
        self.write(|conn| {
            diesel::update(
                mail_outbox::table
                    .find(id)
                    .filter(mail_outbox::sent_at.is_null()),
            )
            .set((
                mail_outbox::sent_at.eq(Some(now_micros())),
                mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                mail_outbox::last_error.eq(None::<String>),
            ))
            .execute(conn)?;
            Ok(())
        })
    }

    /// A failed attempt: try again at `retry_at`, or (`None`) never again. `error` is a short
    /// class of the failure, never an address or content.
    pub fn mail_failed(&self, id: &str, error: &str, retry_at: Option<i64>) -> Result<(), DbError> {
        self.write(|conn| {
            diesel::update(mail_outbox::table.find(id))
                .set((
                    mail_outbox::attempts.eq(mail_outbox::attempts + 1),
                    mail_outbox::last_error.eq(Some(error)),
                    mail_outbox::next_attempt_at.eq(retry_at),
                    mail_outbox::failed_at.eq(retry_at.is_none().then(now_micros)),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    pub fn outbox_status(&self) -> Result<OutboxStatus, DbError> {
        self.with_conn(|conn| {
            let count =
                |conn: &mut DbConnection, sent: bool, failed: bool| -> Result<i64, DbError> {
                    let mut q = mail_outbox::table.into_boxed();
                    q = if sent {
                        q.filter(mail_outbox::sent_at.is_not_null())
                    } else {
                        q.filter(mail_outbox::sent_at.is_null())
                    };
                    q = if failed {
                        q.filter(mail_outbox::failed_at.is_not_null())
                    } else {
                        q.filter(mail_outbox::failed_at.is_null())
                    };
                    Ok(q.count().get_result(conn)?)
                };
            Ok(OutboxStatus {
                pending: count(conn, false, false)?,
                sent: count(conn, true, false)?,
                failed: count(conn, false, true)?,
            })
        })
    }
}
