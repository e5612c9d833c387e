"""Studies: experiments that measure the lecture's claims (`rnnkit compare`)."""
