"""The platform database: engine, migrations, settings, durable commits."""
