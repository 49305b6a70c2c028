"""Profile.language is blank until the person chooses a language, and is then applied at login.

Until now nothing let anyone choose, so every stored "en" is the old default, not a choice:
it becomes blank, or every existing user would be switched to English at their next login.
"""

from django.db import migrations, models


def default_to_unchosen(apps, schema_editor):
    apps.get_model("workflows", "Profile").objects.filter(language="en").update(language="")


def unchosen_to_default(apps, schema_editor):
    apps.get_model("workflows", "Profile").objects.filter(language="").update(language="en")


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0014_beat_lease"),
    ]

    operations = [
        migrations.AlterField(
            model_name="profile",
            name="language",
            field=models.CharField(
                blank=True,
                choices=[("en", "English"), ("zh-hans", "简体中文")],
                default="",
                max_length=10,
            ),
        ),
        migrations.RunPython(default_to_unchosen, unchosen_to_default),
    ]
