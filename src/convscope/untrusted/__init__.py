"""Reading files that come from users: zip archives and images, refused with a reason.

Every check on a user's file lives here, once: the folder dataset, the ``.keras`` loader
and the upload routes all read through these functions. A file that breaks a rule gets
an :class:`~convscope.errors.InvalidInput` naming the rule (a
:class:`~convscope.errors.PayloadTooLarge` naming the limit when it is too large), never
a raw library exception, and memory stays bounded by the limits whatever the file claims.
"""

from convscope.untrusted.archive import ArchiveLimits, SafeZip, open_zip
from convscope.untrusted.image import IMAGE_FORMATS, decode_image, open_image

__all__ = [
    "IMAGE_FORMATS",
    "ArchiveLimits",
    "SafeZip",
    "decode_image",
    "open_image",
    "open_zip",
]
