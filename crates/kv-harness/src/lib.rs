//! The case-file runner of `kvstore`. (Being built: see issue 4.)
