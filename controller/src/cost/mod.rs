//! Cost, apart from any cloud: the calendar days a cost report covers
//! ([`dates`]), a bill's rows summed by day and by VM ([`attribution`]),
//! a monthly budget's thresholds and forecast ([`budget`]), amounts with
//! their currency ([`money`]), what to cut ([`recommend`]), power
//! schedules in a time zone ([`schedule`]), idle autostop ([`idle`]), and what a run of daily figures says, its trend and the
//! days that stand out ([`trend`]). Pure: no I/O, no clock but the one
//! passed in.
//!
//! Not here: asking Azure (`azure::cost_query`, `provider::azure::cost`),
//! keeping days (`state::cost_days`), or showing them (`cli::cost`).

pub mod attribution;
pub mod budget;
pub mod dates;
pub mod idle;
pub mod money;
pub mod recommend;
pub mod schedule;
pub mod trend;
