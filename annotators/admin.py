from django.contrib import admin

from annotators.models import ApiToken, Annotator, Membership


@admin.register(Annotator)
class AnnotatorAdmin(admin.ModelAdmin):
    list_display = ["id", "__str__", "backend", "user", "external_id", "created_at"]
    list_filter = ["backend"]
    search_fields = ["display_name", "external_id", "user__username"]
    list_select_related = ["user"]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "annotator", "role", "paused", "paused_at", "created_at"]
    list_filter = ["role", "paused", "project"]
    list_select_related = ["project", "annotator__user"]
    raw_id_fields = ["annotator"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["id", "prefix", "name", "kind", "user", "project", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["kind"]
    list_select_related = ["user", "project"]
    readonly_fields = ["key_hash", "prefix", "created_at", "last_used_at"]
    search_fields = ["prefix", "name", "user__username"]

    def has_add_permission(self, request) -> bool:
        return False  # keys are shown once, by `manage.py createtoken` or POST /api/v1/tokens
