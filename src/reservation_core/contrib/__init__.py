"""Integrations with web frameworks; each is optional and imports its framework only itself.

* :mod:`reservation_core.contrib.http`: the HTTP answer to a ``BusinessException``, for any
  framework (no dependency).
* :mod:`reservation_core.contrib.django`: a Django app (the ``django`` extra).
"""
