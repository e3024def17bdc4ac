// Local mode runs Postgres, Redis and nginx as Linux processes (runuser, POSIX file modes).
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
