//! Integration tests: the real router over HTTP against a real database. One test binary (each
//! extra binary costs minutes of linking); run on SQLite by default and on PostgreSQL when
//! `FORECOURT_TEST_POSTGRES` is set (see `.ci/run`).

mod kit;

mod auth;
mod bundles;
mod buyers;
mod catalog;
mod cli;
mod crash;
mod edge;
mod finance;
mod inventory;
mod isolation;
mod nodes;
mod order_page;
mod orders;
mod pages;
mod plans;
mod quotes;
mod rls;
mod scopes;
mod users;
mod workflows;
