use std::fmt;

/// What a repository can fail with, each PostgreSQL error classified here once. The HTTP
/// layer maps `Conflict` to 409, `InvalidData` to 422 and `Unavailable` to 503 (with
/// `Retry-After`); events take `InvalidData` as a permanent failure and `Unavailable` as
/// a retry. Nothing here carries SQL text to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule of the domain, enforced by the database, was broken (by a
    /// concurrent writer, or by a duplicate).
    #[error("conflict: {0}")]
    Conflict(Constraint),
    /// The database cannot be reached or gave up (pool timeout, I/O, shutdown).
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database refused a value as data (SQLSTATE class 22: a NUL in text or jsonb, a
    /// number out of range, ...): the input's doing, never worth a retry.
    #[error("the database refused a value: {0}")]
    InvalidData(#[source] sqlx::Error),
    /// Any other database error: a bug or a broken invariant.
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// A stored row does not make a valid domain value.
    #[error("stored data is invalid: {0}")]
    Corrupt(String),
    #[error("migration failed: {0}")]
    Migration(String),
}

/// The unique rules the schema backs, by constraint (index) name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Constraint {
    /// An email belongs to one influencer.
    InfluencerEmail,
    /// One contract per (influencer, campaign).
    ContractPerInfluencerAndCampaign,
    /// At most one active exclusive contract per influencer.
    ActiveExclusiveContract,
    /// Exactly one welcome campaign per influencer.
    WelcomeCampaign,
    /// One report per campaign.
    ReportPerCampaign,
    /// A primary key: the same id was created twice.
    PrimaryKey(String),
    Other(String),
}

impl Constraint {
    fn from_name(name: &str) -> Self {
        match name {
            "influencers_email_key" => Self::InfluencerEmail,
            "contracts_influencer_campaign_key" => Self::ContractPerInfluencerAndCampaign,
            "contracts_one_active_exclusive_per_influencer" => Self::ActiveExclusiveContract,
            "campaigns_one_welcome_per_influencer" => Self::WelcomeCampaign,
            "reports_one_per_campaign" => Self::ReportPerCampaign,
            other if other.ends_with("_pkey") => Self::PrimaryKey(other.to_owned()),
            other => Self::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for Constraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InfluencerEmail => f.write_str("the email belongs to another influencer"),
            Self::ContractPerInfluencerAndCampaign => {
                f.write_str("the influencer already has a contract for this campaign")
            }
            Self::ActiveExclusiveContract => {
                f.write_str("the influencer already holds an active exclusive contract")
            }
            Self::WelcomeCampaign => f.write_str("the influencer already has a welcome campaign"),
            Self::ReportPerCampaign => f.write_str("the campaign already has a report"),
            Self::PrimaryKey(name) => write!(f, "the id already exists ({name})"),
            Self::Other(name) => write!(f, "constraint {name}"),
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        match &error {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(Constraint::from_name(db.constraint().unwrap_or_default()))
            }
            // 57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now,
            // 53300 too_many_connections, 08xxx connection exceptions; and what only a new
            // connection meets: 55000 (the database is not accepting connections), 3D000
            // (it does not exist), 28xxx (the credentials are refused).
            sqlx::Error::Database(db) if db.code().is_some_and(|code| code.starts_with("22")) => {
                Self::InvalidData(error)
            }
            // 57014 statement timeout (or cancel), 40001 serialization failure, 40P01
            // deadlock, 55P03 lock not available: transient, worth a retry later.
            sqlx::Error::Database(db)
                if db.code().is_some_and(|code| {
                    matches!(code.as_ref(), "57014" | "40001" | "40P01" | "55P03")
                        || code.starts_with("08")
                        || code.starts_with("57P")
                        || code.starts_with("28")
                        || matches!(code.as_ref(), "53300" | "55000" | "3D000")
                }) =>
            {
                Self::Unavailable(error)
            }
            sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::WorkerCrashed => Self::Unavailable(error),
            _ => Self::Database(error),
        }
    }
}
