//! stub
use crate::plan::Plan;
pub(super) fn pushdown(plan: Plan) -> Plan { plan }
