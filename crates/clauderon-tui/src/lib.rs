//! `clauderon tui`: every session at a glance and in reach from the keyboard.
//!
//! The gitui shape: [`State`] is plain data; every key, API answer and tick is an [`Event`]
//! that [`update`] turns into a new state and a list of [`Effect`]s; [`draw`] only reads the
//! state. The [`run`] loop is the only place with IO: it turns effects into client calls and
//! feeds the answers and `/ws/events` back as events, redrawing only when one arrives.

mod draw;
mod form;
mod pages;
mod runtime;
mod state;
mod update;

pub use draw::draw;
pub use form::{CreateForm, Field};
pub use runtime::{Options, run};
pub use state::{ConfirmDelete, Connection, Mode, Page, PageKind, State};
pub use update::{COST_TICKS, Effect, Event, update};
