"""A Flask app with two databases (SQLALCHEMY_BINDS), migrated with `flask db init --multidb`."""

import os

from flask import Flask
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy

basedir = os.path.abspath(os.path.dirname(__file__))

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(basedir, "main.db")
app.config["SQLALCHEMY_BINDS"] = {"audit": "sqlite:///" + os.path.join(basedir, "audit.db")}
db = SQLAlchemy(app)
migrate = Migrate(app, db)


class User(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(64), index=True)


class Event(db.Model):
    __bind_key__ = "audit"
    id = db.Column(db.Integer, primary_key=True)
    what = db.Column(db.String(200))


class Login(db.Model):
    __bind_key__ = "audit"
    id = db.Column(db.Integer, primary_key=True)
    user_id = db.Column(db.Integer, nullable=False)
