from django.contrib import admin

from labeling.models import AnnotatorEstimate, Answer, Consensus, DecisionEvent, Item, Job, Lease, Project


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "schema_kind", "rule_kind", "agree_k", "min_answers", "max_answers",
                    "consensus_method", "workforce", "archived", "created_at"]
    list_filter = ["schema_kind", "rule_kind", "consensus_method", "workforce", "archived"]
    search_fields = ["name"]


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "external_id", "status", "answer_count", "is_gold", "confidence", "updated_at"]
    list_filter = ["status", "is_gold", "project"]
    search_fields = ["external_id"]
    list_select_related = ["project"]
    raw_id_fields = ["project"]
    show_full_result_count = False


@admin.register(Answer)
class AnswerAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "value", "seconds", "source", "excluded", "created_at"]
    list_filter = ["source", "excluded", "item__project"]
    list_select_related = ["item", "annotator__user"]
    raw_id_fields = ["item", "annotator"]
    show_full_result_count = False


@admin.register(Consensus)
class ConsensusAdmin(admin.ModelAdmin):
    list_display = ["item", "label", "confidence", "method", "status", "tied", "reviewed_by", "reviewed_at"]
    list_filter = ["status", "method", "tied"]
    list_select_related = ["item", "reviewed_by"]
    raw_id_fields = ["item", "reviewed_by"]


@admin.register(DecisionEvent)
class DecisionEventAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "previous_status", "status", "label", "confidence", "reason", "actor", "created_at"]
    list_filter = ["status", "reason"]
    list_select_related = ["item", "actor"]
    raw_id_fields = ["item", "actor"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "project", "progress_done", "progress_total", "created_by",
                    "created_at", "finished_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["project", "created_by"]
    readonly_fields = ["created_at", "started_at", "finished_at"]


@admin.register(Lease)
class LeaseAdmin(admin.ModelAdmin):
    list_display = ["id", "item", "annotator", "state", "is_gold", "expires_at", "created_at", "closed_at"]
    list_filter = ["state", "is_gold", "project"]
    list_select_related = ["item", "annotator__user"]
    raw_id_fields = ["item", "annotator", "project"]
    show_full_result_count = False


@admin.register(AnnotatorEstimate)
class AnnotatorEstimateAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "annotator", "accuracy", "answers", "gold_answers", "gold_correct", "updated_at"]
    list_filter = ["project"]
    list_select_related = ["project", "annotator__user"]
    raw_id_fields = ["annotator"]
import labeling.exports.admin  # noqa: E402,F401 - dataset export models in the admin
