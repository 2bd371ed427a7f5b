//! Idempotent creates (SPEC section 3), in one place for every create.
//!
//! A create that carries its own `id` claims it here, in the transaction that stores the
//! resource, with the request it came with. The same `id` again with the same request is
//! a replay, with another request a conflict. A create without an `id` gets a fresh one
//! and needs no claim.
//!
//! The claim comes before the resource's own insert, so a replay is recognised even
//! when the resource would now conflict on something else (an email taken since by the
//! very same registration). Two identical requests racing: the second `INSERT` waits for
//! the first transaction and then sees its claim.

use serde_json::Value;
use sqlx::{PgConnection, types::Json};
use uuid::Uuid;

use super::StoreError;

/// What an id names; ids are unique per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Influencer,
    Campaign,
    Contract,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Influencer => "influencer",
            Self::Campaign => "campaign",
            Self::Contract => "contract",
        }
    }
}

/// A create request as the client sent it, kept to tell a replay from a conflict. Opaque
/// to the use cases: they pass it from the adapter to [`claim`].
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    scope: Scope,
    id: Uuid,
    body: Value,
}

impl Request {
    /// The request `body` that asked for the resource `id` of kind `scope`.
    pub fn new(scope: Scope, id: Uuid, body: Value) -> Self {
        Self { scope, id, body }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }
}

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// The id was free: go on and create the resource.
    New,
    /// An earlier request with this id and this body: answer with what it created.
    Replay,
    /// An earlier request with this id and another body.
    Conflict,
}

/// Claims `request`'s id inside the caller's transaction.
pub async fn claim(tx: &mut PgConnection, request: &Request) -> Result<Claim, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency (scope, id, request) VALUES ($1, $2, $3)
         ON CONFLICT (scope, id) DO NOTHING",
    )
    .bind(request.scope.as_str())
    .bind(request.id)
    .bind(Json(&request.body))
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::New);
    }
    let same: Option<bool> =
        sqlx::query_scalar("SELECT request = $3 FROM idempotency WHERE scope = $1 AND id = $2")
            .bind(request.scope.as_str())
            .bind(request.id)
            .bind(Json(&request.body))
            .fetch_optional(&mut *tx)
            .await?;
    Ok(match same {
        Some(true) => Claim::Replay,
        // Gone since (only a rolled-back claim can vanish): a conflict is the safe answer.
        Some(false) | None => Claim::Conflict,
    })
}
