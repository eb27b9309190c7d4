"""A local WeCom: the fake qyapi with WeCom's limits and faults (api, state, faults), the record page
(admin), demo traffic as WeCom posts it (traffic, corpus, archive_sdk) and the demo entry (demo)."""
