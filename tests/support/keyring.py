"""Fixed secret keys for tests: every storage a test builds seals secrets with these."""

from __future__ import annotations

import base64

from hookline.domain.secrets import SecretBox

#: Keys as HOOKLINE_SECRET_KEY spells them (urlsafe base64 of 32 bytes); never use outside tests.
TEST_KEY = base64.urlsafe_b64encode(b"hookline test key, not a secret!").decode()
OTHER_TEST_KEY = base64.urlsafe_b64encode(b"another hookline test key, 32 B!").decode()

#: The keyring of the test suite's storages.
TEST_SECRET_BOX = SecretBox.from_text(TEST_KEY)
