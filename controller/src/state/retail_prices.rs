//! The `retail_prices` table: what the Retail Prices API said a meter
//! costs in a region, kept for a day so `list` and `new` ask it once. A
//! meter is a VM size (priced per hour) or one of [`FILES_PREMIUM_LRS`]'s
//! kind (priced per GB a month): the key says the unit. A row without a
//! price records that the API had none (a size with no pay-as-you-go Linux
//! meter there), so that is not asked again all day either; it is shown as
//! "no price", never as zero.

use anyhow::Result;
use rusqlite::{OptionalExtension, params};

use super::{Db, now_unix};

/// The meter of Premium Files' provisioned LRS storage, per GB a month.
pub const FILES_PREMIUM_LRS: &str = "files:premium-lrs-provisioned";

/// How long an answer is kept.
pub const PRICE_TTL_SECS: i64 = 24 * 3600;

impl Db {
    /// A kept answer younger than a day: `Some(None)` when the API had no
    /// price; `None` when there is nothing fresh.
    pub fn retail_price(
        &self,
        region: &str,
        meter: &str,
        currency: &str,
    ) -> Result<Option<Option<f64>>> {
        let row: Option<(Option<f64>, i64)> = self
            .conn
            .prepare_cached(
                "SELECT price, fetched_at FROM retail_prices
                 WHERE region = ?1 AND meter = ?2 AND currency = ?3",
            )?
            .query_row(
                params![
                    region.to_ascii_lowercase(),
                    meter.to_ascii_lowercase(),
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
        meter: &str,
        currency: &str,
        price: Option<f64>,
    ) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO retail_prices (region, meter, currency, price, fetched_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (region, meter, currency)
                 DO UPDATE SET price = excluded.price, fetched_at = excluded.fetched_at",
            )?
            .execute(params![
                region.to_ascii_lowercase(),
                meter.to_ascii_lowercase(),
                currency,
                price,
                now_unix()
            ])?;
        Ok(())
    }
}
