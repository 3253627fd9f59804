"""The personal identity code (henkilötunnus): valid by its checksum, in its standard form."""

from __future__ import annotations

from stdnum.fi import hetu

from casework.domain.errors import ValidationFailed


def normalise_identity_code(code: str) -> str:
    """The code in its standard form, or ValidationFailed naming the field and the rule."""
    try:
        # Temporary codes (individual number 900–999) are real identities too.
        return hetu.validate(code.strip().upper(), allow_temporary=True)
    except Exception:  # stdnum raises several ValidationError subclasses
        raise ValidationFailed.field(
            "identity_code", "not a valid Finnish personal identity code (henkilötunnus)"
        ) from None
