"""The machinery that runs the use cases (private).

Below the public face (``service.py``, ``async_service.py``) and above the use-case plans:

* ``service_base`` — :class:`ServiceBase`, what both services are made of (the options,
  checked, and the parts below, built from them);
* ``retry`` / ``async_retry`` — when to retry a step and how long to wait, and the two
  thin loops (``time.sleep``, ``asyncio.sleep``) around that decision;
* ``admission`` — per-schedule admission control, one queue for threads and tasks;
* ``grouping`` — group commit: plain bookings waiting at once, booked in one transaction;
* ``observing`` — hooks around each call, and the operation's context variable that log
  records carry.
"""
