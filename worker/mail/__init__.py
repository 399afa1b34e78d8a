"""Reading complaint mails: raw bytes in, decoded and tidied text out.

Every function here is pure; the poller hands over the bytes it fetched.
"""
