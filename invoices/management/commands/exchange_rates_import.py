"""`manage.py exchange_rates_import FILE`: load the ECB's euro reference rates.

FILE is the ECB's daily `eurofxref.csv` or historical `eurofxref-hist.csv` (unzipped),
from https://www.ecb.europa.eu/stats/eurofxref/. The whole file or nothing: a bad line
stops the import with its line number and loads no rate. Loading a file again is harmless
(a rate already loaded is kept, a corrected one replaced); documents issued keep the rate
they were issued with.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core import clock
from invoices.ecb import RatesFileInvalid
from invoices.exchange_rates import exchange_rates_import

MAX_FILE_BYTES = 20 * 1024 * 1024  # the historical file is about 2 MB unzipped


class Command(BaseCommand):
    help = "Load the ECB's euro reference rates from eurofxref.csv or eurofxref-hist.csv (VAT art. 230)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="The ECB CSV file: eurofxref.csv or eurofxref-hist.csv.")

    def handle(self, *args, file: str, **options):
        path = Path(file)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise CommandError(
                    f"{file}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB; not an ECB rate file."
                )
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file.") from None
        except IsADirectoryError:
            raise CommandError(f"{file}: a folder, not a file.") from None
        except UnicodeDecodeError:
            raise CommandError(
                f"{file}: not a text file (unzip eurofxref-hist.zip first); nothing was loaded."
            ) from None
        try:
            summary = exchange_rates_import(
                text=text, source=path.name, at=clock.now(), progress=lambda line: self.stdout.write(line)
            )
        except RatesFileInvalid as error:
            raise CommandError(f"{file}: {error} Nothing was loaded.") from None
        self.stdout.write(self.style.SUCCESS(f"Loaded {summary}"))
