//! Parser of `lcdstatus -e` (the short status display). Owner: lk_resource (issue 4).
