from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from annotators.models import TokenKind
from annotators.services import token_create
from labeling.errors import DomainError
from labeling.models import Project


class Command(BaseCommand):
    help = "Create an API token for USER and print its key (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--pipeline", type=int, metavar="PROJECT_ID",
                            help="A read-only token scoped to this project, for training pipelines.")

    def handle(self, *args, username: str, name: str, pipeline: int | None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        project = None
        if pipeline is not None:
            project = Project.objects.filter(pk=pipeline).first()
            if project is None:
                raise CommandError(f"no project with id {pipeline}")
        try:
            _, key = token_create(user=user, name=name, kind=TokenKind.PIPELINE if project else TokenKind.PERSONAL,
                                  project=project)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(key)
