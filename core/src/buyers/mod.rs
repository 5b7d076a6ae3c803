//! Buyers: accounts by mobile number with one-time codes, sessions, and a buyer's own orders,
//! bookings and quotes. (Contract; being implemented.)

pub mod routes;

/// A signed-in buyer (from the `fc_buyer` cookie or `Authorization: Bearer fcb_…`) of the
/// storefront's tenant. As an extractor it fails with 401 when there is no valid session;
/// use `Option<BuyerSession>` where signing in is optional.
#[derive(Debug, Clone)]
pub struct BuyerSession {
    pub tenant_id: String,
    pub buyer_id: String,
}
