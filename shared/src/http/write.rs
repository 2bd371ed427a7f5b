//! One write of a use case, the same way for every function: a transaction that first
//! checks where the write comes from (the idempotency claim of an API create whose client
//! chose the id, the inbox record of an event), then stores the change and its
//! announcements (outbox), commits, and publishes the announcements after the commit.

use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use super::Runtime;
use crate::{
    events::{EventMetadata, IntegrationEvent},
    store::{
        StoreError,
        idempotency::{self, Claim},
        inbox,
        outbox::{Enqueued, OutboxMessage},
    },
};

/// What asked for a write.
#[derive(Debug, Clone, Copy)]
pub enum Origin<'a> {
    /// An API request; with its create request when the client chose the id.
    Api(Option<&'a idempotency::Request>),
    /// An event (recorded in the inbox, so a redelivery has no second effect).
    Event(&'a EventMetadata),
}

impl Origin<'_> {
    /// The metadata of `event`, announced by this write: it continues the saga of the
    /// event that caused the write, or starts one keyed by `correlation_id`.
    pub fn metadata(
        &self,
        event: &IntegrationEvent,
        correlation_id: impl Into<String>,
        producer: &str,
    ) -> EventMetadata {
        match self {
            Self::Event(cause) => cause.follow_up(event, producer),
            Self::Api(_) => EventMetadata::new(event, correlation_id, producer),
        }
    }
}

/// How a write for either origin started.
pub enum Begun {
    /// Go on: store the change in this write and commit it.
    Write(Write),
    /// The inbox had the event: a redelivery, no second effect.
    AlreadyHandled,
    /// An earlier create with this id and this body: answer with what it created.
    Replay(Uuid),
    /// An earlier create with this id and another body.
    IdConflict(Uuid),
}

/// An open write: its transaction and the announcements it enqueued.
pub struct Write {
    runtime: Runtime,
    tx: Transaction<'static, Postgres>,
    enqueued: Vec<Enqueued>,
}

/// How an API write started.
pub enum Claimed {
    /// Go on: store the change in this write and commit it.
    Write(Write),
    /// An earlier create with this id and this body: answer with what it created.
    Replay(Uuid),
    /// An earlier create with this id and another body.
    IdConflict(Uuid),
}

impl Runtime {
    /// Starts a write that needs no check of where it comes from (an API create whose id
    /// the server chose, a change by hand).
    pub async fn begin(&self) -> Result<Write, StoreError> {
        Ok(Write {
            runtime: self.clone(),
            tx: self.pool.begin().await?,
            enqueued: Vec::new(),
        })
    }

    /// Starts the write of an API request: with `claim`, the create request whose client
    /// chose the id, claimed first.
    pub async fn begin_api_write(
        &self,
        claim: Option<&idempotency::Request>,
    ) -> Result<Claimed, StoreError> {
        let mut write = self.begin().await?;
        if let Some(request) = claim {
            match idempotency::claim(write.conn(), request).await? {
                Claim::New => {}
                Claim::Replay => return Ok(Claimed::Replay(request.id())),
                Claim::Conflict => return Ok(Claimed::IdConflict(request.id())),
            }
        }
        Ok(Claimed::Write(write))
    }

    /// Starts the write an event asks for; `None` when the inbox already had the event
    /// (a redelivery: no second effect).
    pub async fn begin_event_write(
        &self,
        cause: &EventMetadata,
    ) -> Result<Option<Write>, StoreError> {
        let mut write = self.begin().await?;
        let first = inbox::record(write.conn(), self.name, &cause.event_id.to_string()).await?;
        Ok(first.then_some(write))
    }

    /// Starts a write for `origin`, for a use case both an API request and an event
    /// trigger.
    pub async fn begin_write(&self, origin: Origin<'_>) -> Result<Begun, StoreError> {
        Ok(match origin {
            Origin::Api(claim) => match self.begin_api_write(claim).await? {
                Claimed::Write(write) => Begun::Write(write),
                Claimed::Replay(id) => Begun::Replay(id),
                Claimed::IdConflict(id) => Begun::IdConflict(id),
            },
            Origin::Event(cause) => match self.begin_event_write(cause).await? {
                Some(write) => Begun::Write(write),
                None => Begun::AlreadyHandled,
            },
        })
    }
}

impl Write {
    /// The write's connection, for the repositories.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Adds `event`, with its `metadata`, to the outbox in this write.
    pub async fn announce(
        &mut self,
        event: &IntegrationEvent,
        metadata: &EventMetadata,
    ) -> Result<(), StoreError> {
        let message = OutboxMessage::new(event, metadata)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let enqueued = self.runtime.enqueue(&mut self.tx, message).await?;
        self.enqueued.push(enqueued);
        Ok(())
    }

    /// Commits, then publishes the announcements (within the inline budget; the relay
    /// publishes what is left).
    pub async fn commit(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        self.runtime.publish_committed(self.enqueued).await;
        Ok(())
    }
}
