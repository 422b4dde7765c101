"""The promptvault SDK: read, render and manage prompts on a promptvault server.

```python
from promptvault.client import PromptVaultClient

pv = PromptVaultClient("http://127.0.0.1:8600", api_key="pv_...", cache_ttl=60)
text = pv.render("customer_support", {"company_name": "Acme"})
```

It imports no database or server code: ``pip install promptvault`` is enough.
"""

from __future__ import annotations

from promptvault.client.async_client import AsyncPromptVaultClient
from promptvault.client.cache import CacheKey, DiskStore, parse_ref
from promptvault.client.client import PromptVaultClient

__all__ = ["AsyncPromptVaultClient", "CacheKey", "DiskStore", "PromptVaultClient", "parse_ref"]
