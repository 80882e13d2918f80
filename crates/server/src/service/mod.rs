//! Rules and authorization. Edges (REST, gateway) call these with validated input and an
//! authenticated caller; services decide, then call the store and the hub. Nothing here knows
//! about HTTP or sockets.

pub mod accounts;
pub mod channels;
pub mod limits;
pub mod messages;
pub mod passwords;
pub mod presence;
pub mod reactions;
pub mod receipts;
pub mod sessions;
pub mod sync;
pub mod typing;
