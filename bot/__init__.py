"""The shell around the engine: configuration, web app, WeCom in and out, scheduler, CLI."""
