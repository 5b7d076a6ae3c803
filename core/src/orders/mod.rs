//! Vehicle orders. (Being implemented.)

pub mod routes;

use crate::store::Db;

/// The order desk: hands orders to the writer tasks that commit them in batches.
pub struct OrderDesk {
    _private: (),
}

impl OrderDesk {
    pub fn new(_db: &Db) -> OrderDesk {
        OrderDesk { _private: () }
    }
}
