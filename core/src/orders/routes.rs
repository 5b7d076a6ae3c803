//! Order routes. (Being implemented.)
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn public_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
}
