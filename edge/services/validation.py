"""Field parsers shared by every entry point (form, JSON, CLI): strict, with Indonesian messages.

Each parser takes the raw value (a form string or a JSON value) and either returns the
clean value or records a message under the field's name; `Checker.done()` raises one
ValidationError naming every bad field at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from edge.services.errors import ValidationError

PHONE_RE = re.compile(r"^\+?[0-9]{3,20}$")
MAX_TEXT = 4000
MAX_LINE = 200


class Checker:
    def __init__(self, data: Mapping[str, Any] | None) -> None:
        if data is not None and not isinstance(data, Mapping):
            raise ValidationError({"_": "Data harus berupa objek"})
        self.data = data or {}
        self.errors: dict[str, str] = {}

    def _raw(self, field: str) -> Any:
        value = self.data.get(field)
        if isinstance(value, str):
            value = value.strip()
            return value if value != "" else None
        return value

    def text(self, field: str, required: bool = False, max_len: int = MAX_LINE) -> str:
        value = self._raw(field)
        if value is None:
            if required:
                self.errors[field] = "Wajib diisi"
            return ""
        if not isinstance(value, str):
            self.errors[field] = "Harus berupa teks"
            return ""
        if len(value) > max_len:
            self.errors[field] = f"Maksimal {max_len} karakter"
            return ""
        if "\x00" in value:
            self.errors[field] = "Mengandung karakter tidak sah"
            return ""
        return value

    def phone(self, field: str, required: bool = False) -> str:
        value = self.text(field, required=required, max_len=32)
        if value:
            compact = re.sub(r"[\s\-()]", "", value)
            if not PHONE_RE.match(compact):
                self.errors[field] = "Nomor telepon tidak valid"
                return ""
            return compact
        return value

    def integer(
        self, field: str, required: bool = False, lo: int | None = None, hi: int | None = None,
        default: int | None = None,
    ) -> int | None:
        value = self._raw(field)
        if value is None:
            if required:
                self.errors[field] = "Wajib diisi"
            return default
        if isinstance(value, bool):
            self.errors[field] = "Harus berupa bilangan bulat"
            return default
        try:
            number = int(value) if isinstance(value, (int, str)) else None
        except ValueError:
            number = None
        if number is None or (isinstance(value, float)):
            self.errors[field] = "Harus berupa bilangan bulat"
            return default
        if (lo is not None and number < lo) or (hi is not None and number > hi):
            self.errors[field] = f"Harus antara {lo} dan {hi}"
            return default
        return number

    def number(self, field: str, lo: float, hi: float) -> float | None:
        value = self._raw(field)
        if value is None:
            return None
        if isinstance(value, bool):
            self.errors[field] = "Harus berupa angka"
            return None
        try:
            number = float(str(value).replace(",", "."))
        except ValueError:
            self.errors[field] = "Harus berupa angka"
            return None
        if not (lo <= number <= hi):
            self.errors[field] = f"Harus antara {lo} dan {hi}"
            return None
        return number

    def boolean(self, field: str) -> bool | None:
        value = self._raw(field)
        if value is None:
            return None
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "ya", "yes", "on", "y"):
            return True
        if text in ("0", "false", "tidak", "no", "off", "n"):
            return False
        self.errors[field] = "Pilih ya atau tidak"
        return None

    def choice(self, field: str, choices: Any, required: bool = False, default: Any = None) -> Any:
        value = self._raw(field)
        if value is None:
            if required:
                self.errors[field] = "Wajib dipilih"
            return default
        allowed = [c.value if hasattr(c, "value") else c for c in choices]
        if value not in allowed:
            self.errors[field] = "Pilihan tidak dikenal"
            return default
        return value

    def string_list(self, field: str, max_items: int = 50) -> list[str]:
        value = self.data.get(field)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            self.errors[field] = "Harus berupa daftar teks"
            return []
        if len(value) > max_items:
            self.errors[field] = f"Maksimal {max_items} item"
            return []
        return [v.strip() for v in value if v.strip()]

    def fail(self, field: str, message: str) -> None:
        self.errors[field] = message

    def done(self) -> None:
        if self.errors:
            raise ValidationError(self.errors)
