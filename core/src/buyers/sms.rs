//! SMS through the outbox: [`SmsChannel`] is the relay's adapter for messages of kind `sms`; it
//! resolves the recipient reference (`otp:<mobile index>`) to the sealed number on file, opens
//! the sealed code, writes the text, and hands it to an [`SmsGateway`].
//!
//! A real gateway (an SMS provider's API) plugs in as another [`SmsGateway`]. The one shipped is
//! [`FakeSms`], for the demo and tests only (`--fake-sms`): it logs one line with the masked
//! number and the code — **the only place a sign-in code is ever logged, and only in fake
//! mode** — and keeps each tenant's last 100 messages in memory for the storefront's
//! `GET /dev/sms` page. Without `--fake-sms` and without a gateway, `sms` messages fail with a
//! clear reason and are retried, then dead-lettered (see `cli::spawn_background`).
//!
//! **Invariants**: delivery errors name what failed, never the number or the code; the fake
//! inbox is bounded (100 per tenant) and process-wide (keyed by tenant id), so on several nodes
//! each node's page shows what that node's relay sent.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use serde::Serialize;
use serde_json::Value;

use super::otp;
use crate::outbox::{Deliver, Delivery, OutboxEntry};
use crate::pii::{mask_mobile, Vault};
use crate::store::{now_ms, rfc3339, Db};

/// One text message ready to send. `to` is the plain number: adapters must not log it.
pub struct Sms {
    pub to: String,
    pub text: String,
    /// The one-time code the text carries, if any (only the fake gateway shows it).
    pub code: Option<String>,
}

/// Sends a text message (an SMS provider's API, or the fake).
pub trait SmsGateway: Send + Sync {
    fn send(&self, tenant_id: &str, sms: Sms) -> Delivery;
}

/// The outbox adapter of kind `sms`.
pub struct SmsChannel {
    db: Db,
    vault: Vault,
    gateway: Arc<dyn SmsGateway>,
}

impl SmsChannel {
    pub fn new(db: Db, vault: Vault, gateway: Arc<dyn SmsGateway>) -> SmsChannel {
        SmsChannel { db, vault, gateway }
    }
}

/// The sealed number behind a recipient reference: the pending code's number, else the
/// buyer's (the code may have been spent before the message went out).
async fn sealed_number(db: &Db, tenant_id: &str, index: &str) -> Result<Option<String>, String> {
    let fail = |e: sqlx::Error| format!("reading the recipient's number: {e}");
    let mut tx = db.tenant_tx(tenant_id).await.map_err(fail)?;
    let mut found: Option<String> = sqlx::query_scalar(
        "SELECT mobile_enc FROM buyer_otps WHERE tenant_id = $1 AND mobile_index = $2",
    )
    .bind(tenant_id)
    .bind(index)
    .fetch_optional(&mut *tx)
    .await
    .map_err(fail)?;
    if found.is_none() {
        found = sqlx::query_scalar(
            "SELECT mobile_enc FROM buyers WHERE tenant_id = $1 AND mobile_index = $2",
        )
        .bind(tenant_id)
        .bind(index)
        .fetch_optional(&mut *tx)
        .await
        .map_err(fail)?;
    }
    tx.commit().await.map_err(fail)?;
    Ok(found)
}

fn text_of(payload: &Value, code: &str) -> String {
    let brand = payload["brand"].as_str().unwrap_or("Forecourt");
    let minutes = payload["ttl_minutes"].as_i64().unwrap_or(5);
    if payload["locale"]
        .as_str()
        .is_some_and(|l| l.starts_with("zh"))
    {
        format!("【{brand}】您的登录验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。")
    } else {
        format!(
            "{brand}: your sign-in code is {code}. It works for {minutes} minutes. Never share it."
        )
    }
}

impl Deliver for SmsChannel {
    fn deliver(&self, tenant_id: &str, message: &OutboxEntry) -> Delivery {
        let (db, vault, gateway) = (self.db.clone(), self.vault.clone(), self.gateway.clone());
        let tenant_id = tenant_id.to_string();
        let message = message.clone();
        Box::pin(async move {
            if message.name != otp::MESSAGE {
                return Err(format!("no SMS template `{}`", message.name));
            }
            let index = message
                .recipient
                .as_deref()
                .and_then(|r| r.strip_prefix("otp:"))
                .ok_or("the recipient is not an `otp:` reference")?;
            let sealed = sealed_number(&db, &tenant_id, index)
                .await?
                .ok_or("the recipient's number is no longer on file")?;
            let to = vault
                .open(&tenant_id, "mobile", &sealed)
                .map_err(|e| e.to_string())?;
            let code = message.payload["code"]
                .as_str()
                .ok_or("the payload has no sealed code")?;
            let code = vault
                .open(&tenant_id, otp::CODE_FIELD, code)
                .map_err(|e| e.to_string())?;
            let text = text_of(&message.payload, &code);
            gateway
                .send(
                    &tenant_id,
                    Sms {
                        to,
                        text,
                        code: Some(code),
                    },
                )
                .await
        })
    }
}

/// A message as the fake inbox keeps it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FakeSmsEntry {
    /// The recipient, masked (`138****5678`).
    pub to: String,
    /// The one-time code, if the text carries one.
    pub code: Option<String>,
    pub text: String,
    /// When the relay handed it over (RFC 3339, UTC).
    pub at: String,
}

/// How many messages the fake inbox keeps per tenant.
pub const FAKE_INBOX_SIZE: usize = 100;

/// The fake gateway's memory: each tenant's last [`FAKE_INBOX_SIZE`] messages, newest last.
#[derive(Default)]
pub struct FakeInbox {
    by_tenant: Mutex<HashMap<String, VecDeque<FakeSmsEntry>>>,
}

impl FakeInbox {
    /// The process-wide inbox the fake gateway writes and `GET /dev/sms` reads.
    pub fn shared() -> &'static FakeInbox {
        static INBOX: OnceLock<FakeInbox> = OnceLock::new();
        INBOX.get_or_init(FakeInbox::default)
    }

    fn push(&self, tenant_id: &str, entry: FakeSmsEntry) {
        let mut all = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        let list = all.entry(tenant_id.to_string()).or_default();
        list.push_back(entry);
        while list.len() > FAKE_INBOX_SIZE {
            list.pop_front();
        }
    }

    /// A tenant's messages, newest first.
    pub fn newest_first(&self, tenant_id: &str) -> Vec<FakeSmsEntry> {
        let all = self.by_tenant.lock().unwrap_or_else(|e| e.into_inner());
        all.get(tenant_id)
            .map(|l| l.iter().rev().cloned().collect())
            .unwrap_or_default()
    }
}

/// The demo's gateway: logs and keeps the message instead of sending it.
pub struct FakeSms {
    inbox: &'static FakeInbox,
}

impl FakeSms {
    /// The fake gateway writing to the process-wide inbox.
    pub fn shared() -> FakeSms {
        FakeSms {
            inbox: FakeInbox::shared(),
        }
    }
}

impl SmsGateway for FakeSms {
    fn send(&self, tenant_id: &str, sms: Sms) -> Delivery {
        let to = mask_mobile(&sms.to);
        // Demo only: the one log line that carries a sign-in code (see the module doc).
        tracing::info!(
            tenant = tenant_id,
            to = %to,
            code = sms.code.as_deref().unwrap_or("-"),
            "fake SMS (demo only, not sent)"
        );
        self.inbox.push(
            tenant_id,
            FakeSmsEntry {
                to,
                code: sms.code,
                text: sms.text,
                at: rfc3339(now_ms()),
            },
        );
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fake_inbox_is_per_tenant_newest_first_and_bounded() {
        let inbox = FakeInbox::default();
        for i in 0..(FAKE_INBOX_SIZE + 5) {
            inbox.push(
                "t1",
                FakeSmsEntry {
                    to: "138****5678".into(),
                    code: Some(format!("{i:06}")),
                    text: String::new(),
                    at: String::new(),
                },
            );
        }
        let list = inbox.newest_first("t1");
        assert_eq!(list.len(), FAKE_INBOX_SIZE);
        assert_eq!(list[0].code.as_deref(), Some("000104"));
        assert!(inbox.newest_first("t2").is_empty());
    }

    #[test]
    fn texts_follow_the_locale() {
        let zh = serde_json::json!({ "brand": "蜀道", "locale": "zh-CN", "ttl_minutes": 5 });
        assert!(text_of(&zh, "123456").contains("验证码是 123456"));
        let en = serde_json::json!({ "brand": "Aurora", "locale": "en" });
        assert_eq!(
            text_of(&en, "123456"),
            "Aurora: your sign-in code is 123456. It works for 5 minutes. Never share it."
        );
    }
}
