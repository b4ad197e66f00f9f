//! The `retail_prices` table: what the Retail Prices API said a size costs
//! per hour in a region, kept for a day so `list` and `new` ask it once.
//! A row without a price records that the API had none (a size with no
//! pay-as-you-go Linux meter there), so that is not asked again all day
//! either; it is shown as "no price", never as zero.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};

/// How long an answer is kept.
pub const PRICE_TTL_SECS: i64 = 24 * 3600;

impl Db {
    /// A kept answer younger than a day: `Some(None)` when the API had no
    /// price; `None` when there is nothing fresh.
    pub fn retail_price(
        &self,
        region: &str,
        size: &str,
        currency: &str,
    ) -> Result<Option<Option<f64>>> {
        let row: Option<(Option<f64>, i64)> = self
            .conn
            .prepare_cached(
                "SELECT per_hour, fetched_at FROM retail_prices
                 WHERE region = ?1 AND size = ?2 AND currency = ?3",
            )?
            .query_row(
                params![
                    region.to_ascii_lowercase(),
                    size.to_ascii_lowercase(),
                    currency
                ],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(row
            .filter(|(_, at)| now_unix() - at < PRICE_TTL_SECS)
            .map(|(price, _)| price))
    }

    pub fn set_retail_price(
        &self,
        region: &str,
        size: &str,
        currency: &str,
        per_hour: Option<f64>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO retail_prices (region, size, currency, per_hour, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (region, size, currency)
                 DO UPDATE SET per_hour = excluded.per_hour, fetched_at = excluded.fetched_at",
            )?
            .execute(params![
                region.to_ascii_lowercase(),
                size.to_ascii_lowercase(),
                currency,
                per_hour,
                now_unix()
            ])?;
        Ok(())
    }
}
