"""Admin pages for dataset exports. Versions and their files are read-only here, as everywhere:
a published version never changes (cut a new one through the API or ``export_dataset``).

Registered by ``import labeling.exports.admin`` at the end of ``labeling/admin.py``.
"""

from django.contrib import admin

from labeling.exports.models import DatasetFile, DatasetVersion, ExportRun, ExportSettings, WebhookDelivery


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class DatasetFileInline(admin.TabularInline):
    model = DatasetFile
    fields = ["name", "split", "format", "rows", "size", "sha256", "key"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(DatasetVersion)
class DatasetVersionAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "number", "row_count", "storage", "created_by", "created_at", "note"]
    list_filter = ["storage", "project"]
    list_select_related = ["project", "created_by"]
    search_fields = ["fingerprint", "note"]
    inlines = [DatasetFileInline]


@admin.register(DatasetFile)
class DatasetFileAdmin(ReadOnlyAdmin):
    list_display = ["id", "version", "name", "rows", "size", "sha256"]
    list_filter = ["format", "split"]
    list_select_related = ["version__project"]
    search_fields = ["sha256", "name"]


@admin.register(ExportSettings)
class ExportSettingsAdmin(admin.ModelAdmin):
    list_display = ["project", "split_train", "split_validation", "split_test", "webhook_url", "updated_at"]
    list_select_related = ["project"]
    readonly_fields = ["split_salt", "updated_at"]
    raw_id_fields = ["project"]


@admin.register(ExportRun)
class ExportRunAdmin(ReadOnlyAdmin):
    list_display = ["job", "hostname", "pid", "started_at", "heartbeat_at"]
    list_select_related = ["job"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "project", "event", "version", "status", "attempts", "last_status_code", "created_at",
                    "delivered_at"]
    list_filter = ["status", "event"]
    list_select_related = ["project", "version"]
