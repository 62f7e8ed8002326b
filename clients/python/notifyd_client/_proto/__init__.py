"""Generated from proto/notification/v1/notification.proto by clients/python/gen_stubs.py. Do not edit."""
